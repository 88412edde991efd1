//! The structure of a Dimona file, written from the published
//! `Dimona_20231.xsd`: every element with its glossary code (zone or
//! block, which anomaly ids are built from) and its content: a sequence of
//! particles, or a simple type. Extensions are flattened into one sequence.

use std::collections::HashMap;
use std::sync::OnceLock;

/// One step of a sequence: one element, or a choice between several
/// (`names.len() > 1`), occurring `min..=max` times. `max == 0` marks an
/// element the schema names but forbids.
#[derive(Debug)]
pub struct Particle {
    pub names: &'static [&'static str],
    pub min: u32,
    pub max: u32,
}

#[derive(Debug)]
pub enum Simple {
    /// `YYYY-MM-DD`, a real date.
    Date,
    /// `hh:mm:ss.fff`.
    Time,
    /// `HHMM`, 0000-2359.
    Hour,
    /// Decimal digits only; `lens`: allowed lengths (empty: 1..=digits).
    Int {
        digits: usize,
        min: u64,
        max: u64,
        lens: &'static [usize],
    },
    Str {
        min: usize,
        max: usize,
    },
    Enum(&'static [&'static str]),
    /// A closed list whose other values are invalid (`-003`): zones whose
    /// glossary entry has no "outside the domain" anomaly.
    Codes(&'static [&'static str]),
}

#[derive(Debug)]
pub enum Content {
    Simple(Simple),
    Complex(&'static [Particle]),
}

#[derive(Debug)]
pub struct Element {
    pub name: &'static str,
    /// The glossary zone (5 digits, simple elements) or functional block
    /// (9xxxx, complex ones).
    pub code: &'static str,
    pub content: Content,
}

const fn one(name: &'static [&'static str]) -> Particle {
    Particle {
        names: name,
        min: 1,
        max: 1,
    }
}
const fn opt(name: &'static [&'static str]) -> Particle {
    Particle {
        names: name,
        min: 0,
        max: 1,
    }
}
const fn forbidden(name: &'static [&'static str]) -> Particle {
    Particle {
        names: name,
        min: 0,
        max: 0,
    }
}
const fn int(digits: usize, min: u64, max: u64) -> Content {
    Content::Simple(Simple::Int {
        digits,
        min,
        max,
        lens: &[],
    })
}
const fn string(min: usize, max: usize) -> Content {
    Content::Simple(Simple::Str { min, max })
}
const fn e(name: &'static str, code: &'static str, content: Content) -> Element {
    Element {
        name,
        code,
        content,
    }
}

const ADDRESS: &[Particle] = &[
    one(&["Street"]),
    one(&["HouseNbr"]),
    opt(&["PostBox"]),
    one(&["ZIPCode"]),
    one(&["City"]),
    one(&["Country"]),
];

const PLANNED: Particle = opt(&["PlannedHoursNbr", "PlannedDaysNbr"]);

pub const ROOT: &str = "Dimona";

pub static ELEMENTS: &[Element] = &[
    e(
        "Dimona",
        "90372",
        Content::Complex(&[Particle {
            names: &["Form"],
            min: 1,
            max: u32::MAX,
        }]),
    ),
    e(
        "Form",
        "90059",
        Content::Complex(&[
            one(&["Identification"]),
            one(&["FormCreationDate"]),
            one(&["FormCreationHour"]),
            one(&["AttestationStatus"]),
            one(&["TypeForm"]),
            Particle {
                names: &["Reference"],
                min: 0,
                max: 4,
            },
            one(&[
                "DimonaIn",
                "DimonaOut",
                "DimonaUpdate",
                "DimonaCancel",
                "DailyRegistrationDeclaration",
            ]),
        ]),
    ),
    e(
        "Identification",
        "00296",
        Content::Simple(Simple::Enum(&["DIMONA"])),
    ),
    e("FormCreationDate", "00218", Content::Simple(Simple::Date)),
    e("FormCreationHour", "00299", Content::Simple(Simple::Time)),
    // 0, 1, 3 in the schema; the glossary's anomaly for any other value is
    // 00110-003 (it has no -008).
    e(
        "AttestationStatus",
        "00110",
        Content::Simple(Simple::Codes(&["0", "1", "3"])),
    ),
    e("TypeForm", "00297", Content::Simple(Simple::Enum(&["SU"]))),
    e(
        "Reference",
        "90082",
        Content::Complex(&[
            one(&["ReferenceType"]),
            one(&["ReferenceOrigin"]),
            one(&["ReferenceNbr"]),
        ]),
    ),
    e(
        "ReferenceType",
        "00221",
        Content::Simple(Simple::Enum(&["1", "6", "7", "8"])),
    ),
    e(
        "ReferenceOrigin",
        "00298",
        Content::Simple(Simple::Enum(&["1"])),
    ),
    e("ReferenceNbr", "00222", string(1, 20)),
    e(
        "DimonaIn",
        "90373",
        Content::Complex(&[
            one(&["StartingDate"]),
            opt(&["StartingHour"]),
            opt(&["EndingDate"]),
            opt(&["EndingHour"]),
            PLANNED,
            opt(&["EmployerId"]),
            one(&["NaturalPerson"]),
            opt(&["DimonaFeatures"]),
            opt(&["ConstructionControlCards"]),
            opt(&["StudentPlaceOfWork"]),
            opt(&["SmallStatutesInformation"]),
        ]),
    ),
    e(
        "DimonaOut",
        "90377",
        Content::Complex(&[
            one(&["DimonaPeriodId"]),
            one(&["EndingDate"]),
            opt(&["INSS"]),
            opt(&["EmployerId"]),
        ]),
    ),
    e(
        "DimonaUpdate",
        "90378",
        Content::Complex(&[
            one(&["DimonaPeriodId"]),
            opt(&["StartingDate"]),
            opt(&["StartingHour"]),
            opt(&["EndingDate"]),
            opt(&["EndingHour"]),
            opt(&["INSS"]),
            PLANNED,
            opt(&["EmployerId"]),
        ]),
    ),
    e(
        "DimonaCancel",
        "90379",
        Content::Complex(&[
            one(&["DimonaPeriodId"]),
            opt(&["INSS"]),
            opt(&["EmployerId"]),
        ]),
    ),
    e(
        "DailyRegistrationDeclaration",
        "90480",
        Content::Complex(&[
            one(&["AttestationStatus"]),
            opt(&["DailyRegistrationId"]),
            opt(&["DimonaPeriodId"]),
            opt(&["StartingDate"]),
            opt(&["StartingHour"]),
            opt(&["EndingDate"]),
            opt(&["EndingHour"]),
        ]),
    ),
    e(
        "EmployerId",
        "90256",
        Content::Complex(&[
            opt(&["NOSSRegistrationNbr", "ProvisionalNSSONbr"]),
            forbidden(&["NOSSLPARegistrationNbr"]),
            opt(&["CompanyID"]),
        ]),
    ),
    e(
        "NaturalPerson",
        "90017",
        Content::Complex(&[
            forbidden(&["NaturalPersonSequenceNbr"]),
            opt(&["INSS"]),
            forbidden(&["SIS"]),
            opt(&["WorkerName"]),
            opt(&["WorkerFirstName"]),
            opt(&["WorkerInitial"]),
            opt(&["WorkerBirthdate"]),
            opt(&["WorkerBirthplace"]),
            opt(&["WorkerBirthplaceCountry"]),
            opt(&["WorkerSex"]),
            opt(&["WorkerStreet"]),
            opt(&["WorkerHouseNbr"]),
            opt(&["WorkerPostBox"]),
            opt(&["WorkerZIPCode"]),
            opt(&["WorkerCity"]),
            opt(&["WorkerCountry"]),
            opt(&["Nationality"]),
            forbidden(&["NaturalPersonUserReference"]),
        ]),
    ),
    e(
        "DimonaFeatures",
        "90374",
        Content::Complex(&[
            opt(&["JointCommissionNbr"]),
            one(&["WorkerType"]),
            opt(&["SubEntityNbr"]),
            opt(&["UsingEmployer"]),
        ]),
    ),
    e(
        "UsingEmployer",
        "90107",
        Content::Complex(&[
            opt(&["JointCommissionNbr"]),
            opt(&["UsingEmployerName"]),
            opt(&["UsingEmployerCompanyID"]),
            forbidden(&["VATNbr"]),
            forbidden(&["INSS"]),
            forbidden(&["DailyContractNbr"]),
            opt(&["Address"]),
        ]),
    ),
    e("Address", "90022", Content::Complex(ADDRESS)),
    e(
        "ConstructionControlCards",
        "90375",
        Content::Complex(&[one(&["FirstMonthC32ANbr"]), one(&["NextMonthC32ANbr"])]),
    ),
    e(
        "StudentPlaceOfWork",
        "90376",
        Content::Complex(&[opt(&["Denomination"]), opt(&["Address"])]),
    ),
    e(
        "SmallStatutesInformation",
        "90594",
        Content::Complex(&[
            one(&["EmploymentNature"]),
            opt(&["ActivityWithRisk"]),
            one(&["WorkerStatus"]),
        ]),
    ),
    // Simple elements.
    e("ActivityWithRisk", "00041", int(3, 0, 999)),
    e("City", "00522", string(0, 40)),
    e(
        "CompanyID",
        "00014",
        Content::Simple(Simple::Int {
            digits: 10,
            min: 0,
            max: 1_999_999_943,
            lens: &[9, 10],
        }),
    ),
    e("Country", "00523", int(5, 0, 99_999)),
    e("DailyContractNbr", "01254", int(3, 0, 999)),
    e("DailyRegistrationId", "01085", int(12, 0, 999_999_999_999)),
    e("Denomination", "00776", string(0, 96)),
    e("DimonaPeriodId", "00913", int(12, 0, 999_999_999_999)),
    e(
        "EmploymentNature",
        "01231",
        Content::Simple(Simple::Enum(&["EMPLOYEE", "WORKER"])),
    ),
    e("EndingDate", "00911", Content::Simple(Simple::Date)),
    e("EndingHour", "00778", Content::Simple(Simple::Hour)),
    e("FirstMonthC32ANbr", "00663", int(12, 0, 999_999_999_999)),
    e("HouseNbr", "00518", string(0, 10)),
    e(
        "INSS",
        "00024",
        Content::Simple(Simple::Int {
            digits: 11,
            min: 0,
            max: 99_999_999_999,
            lens: &[1, 11],
        }),
    ),
    e(
        "JointCommissionNbr",
        "00046",
        Content::Simple(Simple::Enum(&[
            "124", "140", "144", "145", "149", "302", "320", "322", "XXX",
        ])),
    ),
    e("Nationality", "00119", int(5, 0, 99_999)),
    e("NaturalPersonSequenceNbr", "00023", int(7, 1, 9_999_999)),
    e("NaturalPersonUserReference", "00615", string(0, 20)),
    e("NextMonthC32ANbr", "00664", int(12, 0, 999_999_999_999)),
    e("NOSSLPARegistrationNbr", "00109", int(8, 0, 99_999_926)),
    e("NOSSRegistrationNbr", "00011", int(9, 100_006, 199_999_934)),
    e("PlannedDaysNbr", "01017", int(3, 1, 999)),
    e("PlannedHoursNbr", "01135", int(3, 1, 999)),
    e("PostBox", "00519", string(0, 4)),
    e(
        "ProvisionalNSSONbr",
        "00948",
        int(10, 5_000_000_120, 5_999_999_989),
    ),
    e("SIS", "00167", int(10, 0, 9_999_999_999)),
    e("StartingDate", "00910", Content::Simple(Simple::Date)),
    e("StartingHour", "00777", Content::Simple(Simple::Hour)),
    e("Street", "00517", string(0, 42)),
    e("SubEntityNbr", "00652", int(10, 0, 9_999_999_999)),
    e(
        "UsingEmployerCompanyID",
        "00131",
        Content::Simple(Simple::Int {
            digits: 10,
            min: 0,
            max: 1_999_999_943,
            lens: &[1, 9, 10],
        }),
    ),
    e("UsingEmployerName", "00153", string(0, 96)),
    e("VATNbr", "01185", string(2, 30)),
    e("WorkerBirthdate", "00028", Content::Simple(Simple::Date)),
    e("WorkerBirthplace", "00168", string(1, 40)),
    e("WorkerBirthplaceCountry", "00169", int(5, 0, 99_999)),
    e("WorkerCity", "00034", string(0, 40)),
    e("WorkerCountry", "00035", int(5, 0, 99_999)),
    e("WorkerFirstName", "00026", string(1, 24)),
    e("WorkerHouseNbr", "00031", string(0, 10)),
    e("WorkerInitial", "00027", string(1, 1)),
    e("WorkerName", "00025", string(1, 48)),
    e("WorkerPostBox", "00032", string(0, 4)),
    e(
        "WorkerSex",
        "00029",
        Content::Simple(Simple::Enum(&["1", "2"])),
    ),
    e(
        "WorkerStatus",
        "00053",
        Content::Simple(Simple::Enum(&["F1", "F2"])),
    ),
    e("WorkerStreet", "00030", string(0, 35)),
    e(
        "WorkerType",
        "00655",
        Content::Simple(Simple::Enum(&[
            "A17", "ALT", "BCW", "DWD", "EXT", "FLX", "IVT", "O17", "PMP", "RTA", "S17", "STU",
            "T17", "TEA", "TRI", "STG", "OTH",
        ])),
    ),
    e("WorkerZIPCode", "00033", string(0, 9)),
    e("ZIPCode", "00520", string(0, 9)),
];

/// The element named `name`, if the schema has one.
pub fn element(name: &str) -> Option<&'static Element> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Element>> = OnceLock::new();
    INDEX
        .get_or_init(|| ELEMENTS.iter().map(|e| (e.name, e)).collect())
        .get(name)
        .copied()
}

/// Why a simple value does not fit its type: the anomaly suffix (`003`
/// invalid, `008` outside the allowed domain) and a message.
pub fn check_simple(t: &Simple, v: &str) -> Result<(), (&'static str, String)> {
    let digits_only = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    match t {
        Simple::Date => {
            if valid_date(v) {
                Ok(())
            } else {
                Err(("003", "is not a date YYYY-MM-DD".into()))
            }
        }
        Simple::Time => {
            let b = v.as_bytes();
            let ok = b.len() == 12
                && b[2] == b':'
                && b[5] == b':'
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| matches!(i, 2 | 5 | 8) || c.is_ascii_digit())
                && v[0..2].parse::<u8>().is_ok_and(|h| h < 24)
                && v[3..5].parse::<u8>().is_ok_and(|m| m < 60)
                && v[6..8].parse::<u8>().is_ok_and(|s| s < 60);
            if ok {
                Ok(())
            } else {
                Err(("003", "is not a time hh:mm:ss.fff".into()))
            }
        }
        Simple::Hour => {
            let ok = v.len() == 4
                && digits_only
                && v[0..2].parse::<u8>().is_ok_and(|h| h < 24)
                && v[2..4].parse::<u8>().is_ok_and(|m| m < 60);
            if ok {
                Ok(())
            } else {
                Err(("003", "is not an hour HHMM (0000-2359)".into()))
            }
        }
        Simple::Int {
            digits,
            min,
            max,
            lens,
        } => {
            if !digits_only {
                return Err(("003", "is not a number (digits only)".into()));
            }
            let significant = v.trim_start_matches('0').len();
            if significant > *digits || v.len() > 18 {
                return Err(("003", format!("has more than {digits} digits")));
            }
            if !lens.is_empty() && !lens.contains(&v.len()) {
                let l: Vec<String> = lens.iter().map(ToString::to_string).collect();
                return Err(("003", format!("must have {} digits", l.join(" or "))));
            }
            // Patterns like `0|\d{11}`: the one-digit form is only 0.
            if lens.contains(&1) && v.len() == 1 && v != "0" {
                let l: Vec<String> = lens
                    .iter()
                    .filter(|l| **l > 1)
                    .map(ToString::to_string)
                    .collect();
                return Err((
                    "003",
                    format!("must be 0 or have {} digits", l.join(" or ")),
                ));
            }
            let n: u64 = v
                .parse()
                .map_err(|_| ("003", "is not a number".to_string()))?;
            if n < *min || n > *max {
                return Err(("008", format!("must be between {min} and {max}")));
            }
            Ok(())
        }
        Simple::Str { min, max } => {
            let n = v.chars().count();
            if n < *min {
                Err(("003", format!("must have at least {min} characters")))
            } else if n > *max {
                Err(("003", format!("must have at most {max} characters")))
            } else {
                Ok(())
            }
        }
        Simple::Enum(values) => {
            if values.contains(&v) {
                Ok(())
            } else {
                Err(("008", format!("must be one of {}", values.join(", "))))
            }
        }
        Simple::Codes(values) => {
            if values.contains(&v) {
                Ok(())
            } else {
                Err(("003", format!("must be one of {}", values.join(", "))))
            }
        }
    }
}

fn valid_date(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (
        v[0..4].parse::<u32>(),
        v[5..7].parse::<u32>(),
        v[8..10].parse::<u32>(),
    ) else {
        return false;
    };
    if !b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_particle_names_a_known_element() {
        for el in ELEMENTS {
            if let Content::Complex(ps) = &el.content {
                for p in *ps {
                    for n in p.names {
                        assert!(element(n).is_some(), "{} refers to unknown {n}", el.name);
                    }
                }
            }
        }
    }

    #[test]
    fn simple_types() {
        assert!(check_simple(&Simple::Date, "2024-02-29").is_ok());
        assert!(check_simple(&Simple::Date, "2023-02-29").is_err());
        assert!(check_simple(&Simple::Hour, "2359").is_ok());
        assert!(check_simple(&Simple::Hour, "2400").is_err());
        assert!(check_simple(&Simple::Time, "14:35:00.000").is_ok());
        assert!(check_simple(&Simple::Time, "14:35:00").is_err());
        let inss = &element("INSS").map(|e| &e.content);
        let Some(Content::Simple(t)) = inss else {
            unreachable!()
        };
        assert!(check_simple(t, "01410199955").is_ok());
        assert!(check_simple(t, "0").is_ok());
        assert_eq!(check_simple(t, "1234").map_err(|e| e.0), Err("003"));
        let Some(Content::Simple(noss)) = element("NOSSRegistrationNbr").map(|e| &e.content) else {
            unreachable!()
        };
        assert_eq!(check_simple(noss, "99").map_err(|e| e.0), Err("008"));
        let Some(Content::Simple(status)) = element("AttestationStatus").map(|e| &e.content) else {
            unreachable!()
        };
        assert_eq!(check_simple(status, "3"), Ok(()));
        assert_eq!(check_simple(status, "2").map_err(|e| e.0), Err("003"));
    }
}
