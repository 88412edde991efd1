//! Enterprise numbers (KBO/BCE) and establishment unit numbers.

use super::{IdError, digits, number};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Shared rule: ten digits, `CC = 97 - (first eight digits mod 97)`.
fn parse_ten(input: &str, leading: fn(u8) -> bool, expected: &'static str) -> Result<u64, IdError> {
    let trimmed = input.trim();
    let without_prefix = trimmed
        .strip_prefix("BE")
        .or_else(|| trimmed.strip_prefix("be"))
        .unwrap_or(trimmed);
    let mut d = digits(without_prefix)?;
    // Old 9-digit VAT-style numbers are the same number without the leading 0.
    if d.len() == 9 {
        d.insert(0, b'0');
    }
    if d.len() != 10 {
        return Err(IdError::WrongLength {
            expected: "10 (or 9 in the old form)",
            found: d.len(),
        });
    }
    if !leading(d[0]) {
        return Err(IdError::InvalidLeadingDigit { expected });
    }
    if 97 - number(&d[..8]) % 97 != number(&d[8..]) {
        return Err(IdError::Checksum);
    }
    Ok(number(&d))
}

fn with_check(base8: u64) -> u64 {
    base8 * 100 + (97 - base8 % 97)
}

/// A Crossroads Bank for Enterprises number: ten digits, the first 0 or 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnterpriseNumber(u64);

impl EnterpriseNumber {
    /// Accepts `0403170701`, `0403.170.701`, `BE 0403.170.701` and the old
    /// 9-digit form `403170701`.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        parse_ten(input, |d| d == b'0' || d == b'1', "0 or 1").map(Self)
    }

    /// The enterprise number whose first eight digits are `base8`
    /// (`base8 < 20_000_000`), check digits computed.
    pub fn from_base(base8: u64) -> Result<Self, IdError> {
        if base8 >= 20_000_000 {
            return Err(IdError::OutOfRange {
                range: "00000000-19999999",
            });
        }
        Ok(Self(with_check(base8)))
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    /// The printed form `0403.170.701`.
    pub fn formatted(&self) -> String {
        let s = self.to_string();
        format!("{}.{}.{}", &s[0..4], &s[4..7], &s[7..10])
    }
}

/// An establishment unit number: ten digits, the first 2 to 8.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EstablishmentUnitNumber(u64);

impl EstablishmentUnitNumber {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let d = digits(input)?;
        if d.len() == 9 {
            // No 9-digit legacy form exists for units: a missing digit is an error.
            return Err(IdError::WrongLength {
                expected: "10",
                found: 9,
            });
        }
        parse_ten(input, |d| (b'2'..=b'8').contains(&d), "a digit from 2 to 8").map(Self)
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

macro_rules! ten_digit_traits {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:010}", self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:010})", stringify!($t), self.0)
            }
        }
        impl FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
ten_digit_traits!(EnterpriseNumber);
ten_digit_traits!(EstablishmentUnitNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::single_digit_corruption::corruptions;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        let e = EnterpriseNumber::parse("0403.170.701").unwrap();
        assert_eq!(e.to_string(), "0403170701");
        assert_eq!(e.formatted(), "0403.170.701");
        assert_eq!(EnterpriseNumber::parse("BE 0403170701").unwrap(), e);
        assert_eq!(
            EnterpriseNumber::parse("403170701").unwrap(),
            e,
            "old 9-digit form"
        );
    }

    #[test]
    fn precise_errors() {
        assert_eq!(
            EnterpriseNumber::parse("0403170702"),
            Err(IdError::Checksum)
        );
        assert_eq!(
            EnterpriseNumber::parse("2403170701"),
            Err(IdError::InvalidLeadingDigit { expected: "0 or 1" })
        );
        assert!(matches!(
            EnterpriseNumber::parse("04031707"),
            Err(IdError::WrongLength { found: 8, .. })
        ));
        assert!(matches!(
            EstablishmentUnitNumber::parse("0403170701"),
            Err(IdError::InvalidLeadingDigit { .. })
        ));
    }

    #[test]
    fn establishment_units_start_with_2_to_8() {
        let base = 21_234_567u64;
        let n = format!("{}", base * 100 + (97 - base % 97));
        assert!(EstablishmentUnitNumber::parse(&n).is_ok());
    }

    proptest! {
        #[test]
        fn round_trips(base in 0u64..20_000_000) {
            let e = EnterpriseNumber::from_base(base).unwrap();
            prop_assert_eq!(EnterpriseNumber::parse(&e.to_string()).unwrap(), e);
            prop_assert_eq!(EnterpriseNumber::parse(&e.formatted()).unwrap(), e);
        }

        #[test]
        fn every_single_digit_corruption_is_detected(base in 0u64..20_000_000) {
            let e = EnterpriseNumber::from_base(base).unwrap();
            for bad in corruptions(&e.to_string()) {
                prop_assert!(EnterpriseNumber::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn parser_never_panics(input in "\\PC{0,20}") {
            let _ = EnterpriseNumber::parse(&input);
            let _ = EstablishmentUnitNumber::parse(&input);
        }
    }
}
