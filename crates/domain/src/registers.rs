//! The authentic-source registers the foundation holds: the National
//! Register (and bis register), the employer directory and the directory of
//! network institutions.

use crate::Invalid;
use crate::clock::{format_date, parse_date};
use crate::ids::{EmployerId, EnterpriseNumber, Sex, Ssin};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::Date;

const MAX_NAME: usize = 200;

fn name(field: &str, value: &str) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if v.chars().count() > MAX_NAME {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// An institution's code in the network (`ONEM`, `CPAS-LIEGE`, ...):
/// 2 to 32 characters, uppercase letters, digits, `-` and `_`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct InstitutionCode(String);

impl InstitutionCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim();
        let ok_chars = v
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !(2..=32).contains(&v.len()) || !ok_chars {
            return Err(Invalid::new(
                "institution",
                "an institution code has 2 to 32 characters: uppercase letters, digits, - and _",
            ));
        }
        Ok(Self(v.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstitutionCode({})", self.0)
    }
}

/// ISO 3166-1 alpha-2 country code, uppercase (`BE`, `NL`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let v = s.trim().to_ascii_uppercase();
        let b = v.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(Invalid::new(
                field,
                "must be a two-letter ISO 3166 country code such as BE",
            ));
        }
        Ok(Self([b[0], b[1]]))
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: String,
    pub house_number: String,
    pub postal_code: String,
    pub municipality: String,
    pub country: String,
}

/// A person in the National Register or the bis register.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    pub ssin: Ssin,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<Date>,
    pub sex: Option<Sex>,
    pub nationality: Option<CountryCode>,
    pub address: Option<Address>,
    pub death_date: Option<Date>,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Person(***)")
    }
}

/// Raw person data as typed by an operator or read from an import file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonInput {
    pub ssin: String,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub nationality: Option<String>,
    pub address: Option<Address>,
    pub death_date: Option<String>,
}

impl PersonInput {
    /// Validates every field, and their consistency with the SSIN (birth
    /// date parts and sex it encodes).
    pub fn validate(&self) -> Result<Person, Invalid> {
        let ssin = Ssin::parse(&self.ssin).map_err(|e| Invalid::id("ssin", "the SSIN", e))?;
        let last_name = name("lastName", &self.last_name)?;
        let first_name = name("firstName", &self.first_name)?;
        let birth_date = self
            .birth_date
            .as_deref()
            .map(|d| parse_date("birthDate", d))
            .transpose()?;
        if let Some(b) = birth_date {
            let p = ssin.birth_date_parts();
            let consistent = p.year == b.year()
                && p.month.is_none_or(|m| m == u8::from(b.month()))
                && p.day.is_none_or(|d| d == b.day());
            if !consistent {
                return Err(Invalid::new(
                    "birthDate",
                    "does not match the birth date encoded in the SSIN",
                ));
            }
        }
        let sex = self
            .sex
            .as_deref()
            .map(|s| s.parse::<Sex>().map_err(|m| Invalid::new("sex", m)))
            .transpose()?;
        if let (Some(given), Some(encoded)) = (sex, ssin.sex())
            && given != encoded
        {
            return Err(Invalid::new(
                "sex",
                "does not match the SSIN (odd sequence numbers are male, even female)",
            ));
        }
        let nationality = self
            .nationality
            .as_deref()
            .map(|n| CountryCode::parse("nationality", n))
            .transpose()?;
        let death_date = self
            .death_date
            .as_deref()
            .map(|d| parse_date("deathDate", d))
            .transpose()?;
        if let (Some(b), Some(d)) = (birth_date, death_date)
            && d < b
        {
            return Err(Invalid::new("deathDate", "is before the birth date"));
        }
        Ok(Person {
            ssin,
            last_name,
            first_name,
            birth_date,
            sex: sex.or(ssin.sex()),
            nationality,
            address: self.address.clone(),
            death_date,
        })
    }
}

impl Person {
    pub fn birth_date_text(&self) -> Option<String> {
        self.birth_date.map(format_date)
    }
    pub fn death_date_text(&self) -> Option<String> {
        self.death_date.map(format_date)
    }
}

/// An employer in the employer directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employer {
    pub employer_id: EmployerId,
    pub enterprise_number: EnterpriseNumber,
    pub name: String,
    pub joint_committee: Option<String>,
    pub address: Option<Address>,
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmployerInput {
    pub employer_id: String,
    pub enterprise_number: String,
    pub name: String,
    pub joint_committee: Option<String>,
    pub address: Option<Address>,
}

impl EmployerInput {
    pub fn validate(&self) -> Result<Employer, Invalid> {
        let employer_id = EmployerId::parse(&self.employer_id)
            .map_err(|e| Invalid::id("employerId", "the ONSS number", e))?;
        let enterprise_number = EnterpriseNumber::parse(&self.enterprise_number)
            .map_err(|e| Invalid::id("enterpriseNumber", "the enterprise number", e))?;
        let joint_committee = self
            .joint_committee
            .as_deref()
            .map(|jc| {
                let v = jc.trim();
                let ok =
                    (3..=7).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit() || c == '.');
                if ok || v == "XXX" {
                    Ok(v.to_owned())
                } else {
                    Err(Invalid::new(
                        "jointCommittee",
                        "must be a joint committee number such as 302 or 124.00",
                    ))
                }
            })
            .transpose()?;
        Ok(Employer {
            employer_id,
            enterprise_number,
            name: name("name", &self.name)?,
            joint_committee,
            address: self.address.clone(),
            active: true,
        })
    }
}

/// A network institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub code: InstitutionCode,
    pub name: String,
    pub sector: Option<u16>,
    pub webhook_url: Option<String>,
}

impl Institution {
    pub fn new(
        code: &str,
        name_: &str,
        sector: Option<u16>,
        webhook: Option<&str>,
    ) -> Result<Self, Invalid> {
        let code = InstitutionCode::parse(code)?;
        if let Some(s) = sector
            && s > 999
        {
            return Err(Invalid::new(
                "sector",
                "must be a sector number from 0 to 999",
            ));
        }
        let webhook_url = webhook.map(|w| http_url("webhook", w)).transpose()?;
        Ok(Self {
            code,
            name: name("name", name_)?,
            sector,
            webhook_url,
        })
    }
}

/// An endpoint the hub calls (webhook, provider): an absolute http(s) URL
/// with a host and without credentials. Errors name `field`.
pub fn http_url(field: &str, s: &str) -> Result<String, Invalid> {
    let v = s.trim();
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| Invalid::new(field, "must be an absolute http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || host.contains('@')
        || v.len() > 2000
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Invalid::new(
            field,
            "must be an absolute http:// or https:// URL with a host and no credentials",
        ));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> PersonInput {
        PersonInput {
            ssin: "93051822361".into(),
            last_name: "Peeters".into(),
            first_name: "Jan".into(),
            birth_date: Some("1993-05-18".into()),
            sex: Some("M".into()),
            nationality: Some("be".into()),
            ..Default::default()
        }
    }

    #[test]
    fn valid_person() {
        let p = person().validate().unwrap();
        assert_eq!(p.nationality.unwrap().as_str(), "BE");
        assert_eq!(p.birth_date_text().as_deref(), Some("1993-05-18"));
    }

    #[test]
    fn inconsistent_person_fields_are_named() {
        let mut p = person();
        p.birth_date = Some("1993-05-19".into());
        assert_eq!(p.validate().unwrap_err().field, "birthDate");
        let mut p = person();
        p.sex = Some("F".into());
        assert_eq!(p.validate().unwrap_err().field, "sex");
        let mut p = person();
        p.ssin = "93051822362".into();
        let e = p.validate().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("ssin", "the SSIN has wrong check digits")
        );
        let mut p = person();
        p.last_name = "  ".into();
        assert_eq!(p.validate().unwrap_err().field, "lastName");
        let mut p = person();
        p.death_date = Some("1990-01-01".into());
        assert_eq!(p.validate().unwrap_err().field, "deathDate");
    }

    #[test]
    fn institutions() {
        assert!(Institution::new("ONEM", "Office national de l'emploi", Some(18), None).is_ok());
        assert_eq!(
            Institution::new("onem", "x", None, None).unwrap_err().field,
            "institution"
        );
        assert_eq!(
            Institution::new("ONEM", "x", None, Some("ftp://x"))
                .unwrap_err()
                .field,
            "webhook"
        );
        assert_eq!(
            Institution::new("ONEM", "x", None, Some("https://u:p@host/"))
                .unwrap_err()
                .field,
            "webhook"
        );
    }

    #[test]
    fn employers() {
        let e = EmployerInput {
            employer_id: "0009354-67".into(),
            enterprise_number: "0403.170.701".into(),
            name: "Brasserie du Coin".into(),
            joint_committee: Some("302".into()),
            address: None,
        };
        assert!(e.validate().is_ok());
        let bad = EmployerInput {
            enterprise_number: "0403170702".into(),
            ..e
        };
        assert_eq!(bad.validate().unwrap_err().field, "enterpriseNumber");
    }
}
