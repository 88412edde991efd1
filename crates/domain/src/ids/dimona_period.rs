//! The Dimona period identifier, assigned by the service on a Dimona IN.

use super::{IdError, digits, number};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Twelve digits, the last two check digits `CC = first ten mod 97`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DimonaPeriodId(u64);

impl DimonaPeriodId {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let d = digits(input)?;
        if d.len() != 12 {
            return Err(IdError::WrongLength {
                expected: "12",
                found: d.len(),
            });
        }
        if number(&d[..10]) % 97 != number(&d[10..]) {
            return Err(IdError::Checksum);
        }
        Ok(Self(number(&d)))
    }

    /// The id for a 10-digit sequence value (`< 10^10`).
    pub fn from_sequence(sequence: u64) -> Result<Self, IdError> {
        if sequence >= 10_000_000_000 {
            return Err(IdError::OutOfRange {
                range: "0-9999999999",
            });
        }
        Ok(Self(sequence * 100 + sequence % 97))
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    pub fn as_i64(&self) -> i64 {
        // < 10^12, far below i64::MAX.
        self.0 as i64
    }
}

impl fmt::Display for DimonaPeriodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl fmt::Debug for DimonaPeriodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DimonaPeriodId({self})")
    }
}

impl FromStr for DimonaPeriodId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Serialised as a JSON number like the ONSS API (`period.id`).
impl Serialize for DimonaPeriodId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for DimonaPeriodId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Self::parse(&format!("{n:012}")),
            Raw::S(s) => Self::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::single_digit_corruption::corruptions;
    use proptest::prelude::*;

    #[test]
    fn check_digits_are_first_ten_mod_97() {
        let id = DimonaPeriodId::from_sequence(1_234_567_890).unwrap();
        assert_eq!(
            id.to_string(),
            format!("1234567890{:02}", 1_234_567_890u64 % 97)
        );
        assert_eq!(
            DimonaPeriodId::parse("123456789000"),
            Err(IdError::Checksum)
        );
        assert!(matches!(
            DimonaPeriodId::parse("1234"),
            Err(IdError::WrongLength { found: 4, .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(seq in 0u64..10_000_000_000) {
            let id = DimonaPeriodId::from_sequence(seq).unwrap();
            prop_assert_eq!(DimonaPeriodId::parse(&id.to_string()).unwrap(), id);
        }

        #[test]
        fn every_single_digit_corruption_is_detected(seq in 0u64..10_000_000_000) {
            let id = DimonaPeriodId::from_sequence(seq).unwrap();
            for bad in corruptions(&id.to_string()) {
                prop_assert!(DimonaPeriodId::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn parser_never_panics(input in "\\PC{0,24}") {
            let _ = DimonaPeriodId::parse(&input);
        }
    }
}
