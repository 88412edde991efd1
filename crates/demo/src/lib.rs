//! A deterministic synthetic population: persons (National Register and bis
//! numbers, both centuries, some deceased), employers across joint
//! committees, institutions across sectors with their capacity codes,
//! public authorizations and reference-directory entries.
//!
//! Same seed, same population, byte for byte: tests and benchmarks rely on
//! it. Loading is idempotent (existing rows are kept).

mod names;

use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::ids::{EmployerId, EnterpriseNumber, Sex, Ssin};
use kruispunt_domain::registers::{Address, CountryCode, Employer, Institution, Person};
use kruispunt_domain::sectors::capacities_of;
use kruispunt_store::{NewAuthorization, NewReference, Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

#[derive(Debug, Clone, Copy)]
pub struct DemoSpec {
    pub persons: u64,
    pub employers: u64,
    pub seed: u64,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            persons: 1000,
            employers: 50,
            seed: 42,
        }
    }
}

/// The institutions of the demo network: (code, name, sector).
pub const INSTITUTIONS: &[(&str, &str, u16)] = &[
    (
        "ONEM",
        "Office national de l'emploi / Rijksdienst voor Arbeidsvoorziening",
        18,
    ),
    (
        "CAPAC",
        "Caisse auxiliaire de paiement des allocations de chômage",
        18,
    ),
    ("CPAS-BRUXELLES", "CPAS de Bruxelles", 17),
    ("CPAS-LIEGE", "CPAS de Liège", 17),
    ("OCMW-GENT", "OCMW Gent", 17),
    ("OCMW-ANTWERPEN", "OCMW Antwerpen", 17),
    (
        "INAMI",
        "Institut national d'assurance maladie-invalidité / RIZIV",
        6,
    ),
    (
        "MUT-CHRETIENNE",
        "Mutualité chrétienne / Christelijke Mutualiteit",
        6,
    ),
    ("SOLIDARIS", "Solidaris - Socialistische Mutualiteit", 6),
    (
        "MUT-LIBERALE",
        "Mutualités libérales / Liberale Mutualiteit",
        6,
    ),
    (
        "CAAMI",
        "Caisse auxiliaire d'assurance maladie-invalidité",
        6,
    ),
    ("FAMIWAL", "FAMIWAL - allocations familiales", 7),
    ("FONS", "FONS - Groeipakket", 7),
    ("KIDSLIFE", "Kidslife Vlaanderen", 7),
    (
        "SFP",
        "Service fédéral des Pensions / Federale Pensioendienst",
        15,
    ),
    ("FEDRIS", "Agence fédérale des risques professionnels", 11),
    ("ETHIAS", "Ethias - assureur accidents du travail", 11),
    ("AXA-BELGIUM", "AXA Belgium - accidents du travail", 11),
    ("ONSS", "Office national de sécurité sociale / RSZ", 12),
    (
        "ONSS-APL",
        "ONSS - administrations provinciales et locales",
        13,
    ),
];

/// Which services each sector is authorized for in the demo network.
fn services_of(sector: u16) -> &'static [&'static str] {
    match sector {
        17 | 18 => &["identification", "employment", "employer"],
        6 | 7 | 15 | 11 => &["identification", "employment"],
        12 | 13 => &["identification", "employer"],
        _ => &["identification"],
    }
}

/// Progress reported while loading: (what, done, total).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Persons are generated and written in chunks of this size, so memory
/// stays flat whatever the population.
const CHUNK: u64 = 20_000;

pub struct Generator {
    spec: DemoSpec,
    rng: ChaCha8Rng,
    seen: HashSet<u64>,
}

impl Generator {
    pub fn new(spec: DemoSpec) -> Self {
        Self {
            spec,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            seen: HashSet::new(),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// A fresh, valid SSIN never drawn before by this generator.
    fn draw_ssin(&mut self) -> Ssin {
        loop {
            let year = self.rng.random_range(1925..=2024);
            let month = self.rng.random_range(1..=12u8);
            let day = self.rng.random_range(1..=28u8);
            let male = self.rng.random_bool(0.5);
            // ~3 % bis numbers (+40, sex known), ~1 % +20 (sex unknown).
            let offset = match self.rng.random_range(0..100u32) {
                0 => 20,
                1..=3 => 40,
                _ => 0,
            };
            let mut seq = self.rng.random_range(1..=997u16);
            if offset != 20 && (seq % 2 == 1) != male {
                seq += 1;
            }
            let Ok(ssin) = Ssin::from_parts(year, month + offset, day, seq.min(998)) else {
                continue;
            };
            let key = ssin.as_str().parse::<u64>().unwrap_or(0);
            if self.seen.insert(key) {
                return ssin;
            }
        }
    }

    /// `n` fresh SSINs in ascending order. Loading persons in key order
    /// keeps every B-tree append-only, which is what makes a million-person
    /// load fit in a minute (random order dirtied one page per row).
    pub fn ssins(&mut self, n: u64) -> Vec<Ssin> {
        let mut v: Vec<Ssin> = (0..n).map(|_| self.draw_ssin()).collect();
        v.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        v
    }

    /// One person with a fresh, valid SSIN.
    pub fn person(&mut self) -> Person {
        let ssin = self.draw_ssin();
        self.person_for(ssin)
    }

    /// The person data (names, address, death) for `ssin`.
    pub fn person_for(&mut self, ssin: Ssin) -> Person {
        let sex = ssin.sex();
        let first_name = match sex {
            Some(Sex::Female) => self.pick(names::FIRST_NAMES_F),
            _ => self.pick(names::FIRST_NAMES_M),
        };
        let (postal_code, municipality) = self.pick(names::MUNICIPALITIES);
        let street = self.pick(names::STREETS);
        let house = self.rng.random_range(1..300u32);
        let birth = ssin.birth_date();
        let year = ssin.birth_date_parts().year;
        let deceased =
            year < 1950 && self.rng.random_bool(0.3) || self.rng.random_range(0..100) == 0;
        let death_date = if deceased {
            birth.and_then(|b| {
                let age_days = self.rng.random_range(365 * 20..365 * 95);
                let d = b.checked_add(time::Duration::days(age_days))?;
                (d.year() <= 2025).then_some(d)
            })
        } else {
            None
        };
        let nationality = if ssin.is_bis() {
            self.pick(&names::NATIONALITIES[8..])
        } else {
            self.pick(names::NATIONALITIES)
        };
        Person {
            ssin,
            last_name: self.pick(names::LAST_NAMES).to_owned(),
            first_name: first_name.to_owned(),
            birth_date: birth,
            sex,
            nationality: CountryCode::parse("nationality", nationality).ok(),
            address: Some(Address {
                street: street.to_owned(),
                house_number: house.to_string(),
                postal_code: postal_code.to_owned(),
                municipality: municipality.to_owned(),
                country: "BE".to_owned(),
            }),
            death_date,
        }
    }

    /// Employer number `k` (deterministic, unique per k).
    pub fn employer(&mut self, k: u64) -> Option<Employer> {
        let (kind, jc) = self.pick(names::COMPANY_KINDS);
        let suffix = self.pick(names::COMPANY_SUFFIXES);
        let owner = self.pick(names::LAST_NAMES);
        let (postal_code, municipality) = self.pick(names::MUNICIPALITIES);
        Some(Employer {
            employer_id: EmployerId::definitive_from_sequence(
                1_000_000 + k * 7 + self.spec.seed % 7,
            )
            .ok()?,
            enterprise_number: EnterpriseNumber::from_base(
                4_000_000 + k * 13 + self.spec.seed % 13,
            )
            .ok()?,
            name: format!("{kind} {owner} {suffix}"),
            joint_committee: Some(jc.to_owned()),
            address: Some(Address {
                street: self.pick(names::STREETS).to_owned(),
                house_number: self.rng.random_range(1..200u32).to_string(),
                postal_code: postal_code.to_owned(),
                municipality: municipality.to_owned(),
                country: "BE".to_owned(),
            }),
            active: k % 25 != 24,
        })
    }

    /// Between 0 and 3 references for a person, at institutions of
    /// different sectors with a capacity code of that sector.
    fn references(&mut self, person_index: u64, ssin: &Ssin, out: &mut Vec<NewReference>) {
        let n = self.rng.random_range(0..=3usize);
        for j in 0..n {
            let (code, _, sector) = self.pick(INSTITUTIONS);
            let caps: Vec<u16> = capacities_of(sector)
                .map(|c| c.code)
                .filter(|c| *c != 999 && *c != 902)
                .collect();
            let capacity = self.pick(&caps);
            let start_year = self.rng.random_range(2005..=2026);
            let start = format!("{start_year}-{:02}-01", self.rng.random_range(1..=12));
            let end = self.rng.random_bool(0.25).then(|| {
                format!(
                    "{}-12-31",
                    (start_year + self.rng.random_range(0..4)).min(2026)
                )
            });
            out.push(NewReference {
                // Zero-padded so ids sort in load order (append-only index).
                id: format!("demo-{}-{person_index:010}-{j}", self.spec.seed),
                institution: code.to_owned(),
                ssin: ssin.to_string(),
                capacity,
                start_date: start,
                end_date: end,
            });
        }
    }
}

/// The authorizations of the demo network: each institution may use its
/// sector's services for each of its sector's specific capacity codes,
/// with the integration check on. One institution (the pensions service)
/// gets `employer` without integration check, as a directory-style example.
pub fn authorizations(seed: u64) -> Vec<NewAuthorization> {
    let mut out = Vec::new();
    for (i, &(code, _, sector)) in INSTITUTIONS.iter().enumerate() {
        for service in services_of(sector) {
            let caps: Vec<u16> = capacities_of(sector)
                .map(|c| c.code)
                .filter(|c| ![0, 902, 999].contains(c))
                .collect();
            for capacity in caps {
                // The employer directory is not about a person: no integration check.
                let integration_check = *service != "employer";
                out.push(NewAuthorization {
                    id: format!("demo-{seed}-{code}-{service}-{capacity}"),
                    institution: code.to_owned(),
                    service: (*service).to_owned(),
                    purpose: capacity.to_string(),
                    integration_check,
                    deliberation: Some(format!("CSI/{:02}/{:03}", 18 + i % 8, 100 + i * 7)),
                    valid_from: "2018-01-01".to_owned(),
                    valid_to: None,
                });
            }
        }
    }
    out
}

/// What a load created (or found already there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub persons: u64,
    pub employers: u64,
    pub institutions: u64,
    pub authorizations: u64,
    pub references: u64,
}

/// Loads the population into `store`, reporting progress.
pub async fn load(
    store: &Store,
    spec: DemoSpec,
    now: Timestamp,
    progress: Progress<'_>,
) -> Result<LoadSummary, StoreError> {
    let mut g = Generator::new(spec);
    let mut summary = LoadSummary::default();

    for &(code, name, sector) in INSTITUTIONS {
        if let Ok(i) = Institution::new(code, name, Some(sector), None) {
            store.insert_institution_with(&i, true, now).await?;
            summary.institutions += 1;
        }
    }
    let auths = authorizations(spec.seed);
    store.insert_authorizations(&auths, true, now).await?;
    summary.authorizations = auths.len() as u64;

    let mut employers = Vec::new();
    for k in 0..spec.employers {
        if let Some(e) = g.employer(k) {
            employers.push(e);
        }
        if employers.len() >= CHUNK as usize {
            store.bulk_insert_employers(&employers, true, now).await?;
            summary.employers += employers.len() as u64;
            employers.clear();
            progress("employers", summary.employers, spec.employers);
        }
    }
    store.bulk_insert_employers(&employers, true, now).await?;
    summary.employers += employers.len() as u64;
    progress("employers", summary.employers, spec.employers);

    let ssins = g.ssins(spec.persons);
    let mut done = 0u64;
    let mut persons = Vec::with_capacity(CHUNK as usize);
    let mut refs = Vec::with_capacity(CHUNK as usize * 2);
    while done < spec.persons {
        let n = CHUNK.min(spec.persons - done);
        persons.clear();
        refs.clear();
        for i in 0..n {
            let p = g.person_for(ssins[(done + i) as usize]);
            g.references(done + i, &p.ssin, &mut refs);
            persons.push(p);
        }
        store.bulk_upsert_persons(&persons, now).await?;
        store.insert_references(&refs, true, now).await?;
        done += n;
        summary.persons = done;
        summary.references += refs.len() as u64;
        progress("persons", done, spec.persons);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kruispunt_domain::clock::format_date;

    #[test]
    fn same_seed_same_people() {
        let spec = DemoSpec {
            persons: 0,
            employers: 0,
            seed: 7,
        };
        let a: Vec<String> = {
            let mut g = Generator::new(spec);
            (0..200).map(|_| g.person().ssin.to_string()).collect()
        };
        let b: Vec<String> = {
            let mut g = Generator::new(spec);
            (0..200).map(|_| g.person().ssin.to_string()).collect()
        };
        assert_eq!(a, b);
        let c: Vec<String> = {
            let mut g = Generator::new(DemoSpec { seed: 8, ..spec });
            (0..200).map(|_| g.person().ssin.to_string()).collect()
        };
        assert_ne!(a, c);
    }

    #[test]
    fn population_covers_the_cases() {
        let mut g = Generator::new(DemoSpec::default());
        let people: Vec<Person> = (0..5000).map(|_| g.person()).collect();
        assert!(people.iter().any(|p| p.ssin.is_bis()));
        assert!(people.iter().any(|p| p.ssin.sex().is_none()));
        assert!(people.iter().any(|p| p.death_date.is_some()));
        assert!(
            people
                .iter()
                .any(|p| p.birth_date.is_some_and(|d| d.year() >= 2000))
        );
        assert!(
            people
                .iter()
                .any(|p| p.birth_date.is_some_and(|d| d.year() < 2000))
        );
        let unique: HashSet<_> = people.iter().map(|p| p.ssin).collect();
        assert_eq!(unique.len(), people.len());
        // Every person passes the register's own validation.
        for p in &people {
            let input = kruispunt_domain::registers::PersonInput {
                ssin: p.ssin.to_string(),
                last_name: p.last_name.clone(),
                first_name: p.first_name.clone(),
                birth_date: p.birth_date.map(format_date),
                sex: p.sex.map(|s| s.code().to_owned()),
                nationality: p.nationality.map(|n| n.as_str().to_owned()),
                address: p.address.clone(),
                death_date: p.death_date.map(format_date),
            };
            assert!(input.validate().is_ok());
        }
        let employers: Vec<Employer> = (0..100).filter_map(|k| g.employer(k)).collect();
        assert_eq!(employers.len(), 100);
        let ids: HashSet<_> = employers.iter().map(|e| e.employer_id).collect();
        assert_eq!(ids.len(), 100);
    }

    #[test]
    fn authorizations_only_use_known_capacities() {
        for a in authorizations(1) {
            let sector = INSTITUTIONS
                .iter()
                .find(|i| i.0 == a.institution)
                .unwrap()
                .2;
            let purpose: u16 = a.purpose.parse().unwrap();
            assert!(capacities_of(sector).any(|c| c.code == purpose));
        }
    }
}
