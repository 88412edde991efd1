//! The ONSS/RSZ employer number (`NOSSRegistrationNbr`, zone 00011) and the
//! provisional number given to new employers for Dimona (zone 00948).

use super::{IdError, digits, number};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Definitive numbers: 9 digits `NNNNNNNCC` in [100006, 199999934].
const DEFINITIVE: std::ops::RangeInclusive<u64> = 100_006..=199_999_934;
/// Provisional numbers: 10 digits `NNNNNNNNCC` in [5000000120, 5999999989].
const PROVISIONAL: std::ops::RangeInclusive<u64> = 5_000_000_120..=5_999_999_989;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnssNumberKind {
    Definitive,
    Provisional,
}

/// An employer's ONSS number, definitive or provisional. Both check the
/// same way: the whole number mod 97 equals 96 (official example
/// 0009354-67 = 935467).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmployerId(u64);

impl EmployerId {
    /// Accepts `935467`, `0009354-67`, `000935467` and provisional
    /// `5000000120`.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let d = digits(input)?;
        let n = number(&d[..d.len().min(18)]);
        if d.len() > 10 {
            return Err(IdError::WrongLength {
                expected: "at most 9 (definitive) or 10 (provisional)",
                found: d.len(),
            });
        }
        Self::from_value(n)
    }

    pub fn from_value(n: u64) -> Result<Self, IdError> {
        if !DEFINITIVE.contains(&n) && !PROVISIONAL.contains(&n) {
            return Err(IdError::OutOfRange {
                range: "100006-199999934 (definitive) or 5000000120-5999999989 (provisional)",
            });
        }
        if n % 97 != 96 {
            return Err(IdError::Checksum);
        }
        Ok(Self(n))
    }

    /// The definitive number whose 7-digit sequence is `sequence`
    /// (1000..=1999999), check digits computed.
    pub fn definitive_from_sequence(sequence: u64) -> Result<Self, IdError> {
        let base = sequence * 100;
        // Choose CC so that (base + CC) mod 97 = 96.
        let cc = (96 + 97 - base % 97) % 97;
        Self::from_value(base + cc)
    }

    pub fn kind(&self) -> OnssNumberKind {
        if PROVISIONAL.contains(&self.0) {
            OnssNumberKind::Provisional
        } else {
            OnssNumberKind::Definitive
        }
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    /// The printed form `0009354-67` (definitive) or `50000001-20`.
    pub fn formatted(&self) -> String {
        match self.kind() {
            OnssNumberKind::Definitive => format!("{:07}-{:02}", self.0 / 100, self.0 % 100),
            OnssNumberKind::Provisional => format!("{:08}-{:02}", self.0 / 100, self.0 % 100),
        }
    }

    /// The value as stored (i64 for portable SQL).
    pub fn as_i64(&self) -> i64 {
        // Both ranges are far below i64::MAX.
        self.0 as i64
    }

    /// Back from the stored value; `None` if it is not a valid number.
    pub fn from_i64(v: i64) -> Option<Self> {
        u64::try_from(v).ok().and_then(|n| Self::from_value(n).ok())
    }
}

impl fmt::Display for EmployerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for EmployerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmployerId({})", self.formatted())
    }
}

impl FromStr for EmployerId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Serialised as a JSON number, as the ONSS REST API does (`employerId: N`).
impl Serialize for EmployerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for EmployerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Self::from_value(n),
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
    fn official_example() {
        let e = EmployerId::parse("0009354-67").unwrap();
        assert_eq!(e.value(), 935_467);
        assert_eq!(e.kind(), OnssNumberKind::Definitive);
        assert_eq!(e.formatted(), "0009354-67");
        assert_eq!(EmployerId::parse("935467").unwrap(), e);
    }

    #[test]
    fn range_bounds() {
        assert!(EmployerId::parse("100006").is_ok());
        assert!(EmployerId::parse("199999934").is_ok());
        assert!(matches!(
            EmployerId::parse("9999"),
            Err(IdError::OutOfRange { .. })
        ));
        let p = EmployerId::parse("5000000120").unwrap();
        assert_eq!(p.kind(), OnssNumberKind::Provisional);
        assert!(EmployerId::parse("5999999989").is_ok());
        assert_eq!(EmployerId::parse("935468"), Err(IdError::Checksum));
    }

    proptest! {
        #[test]
        fn round_trips(seq in 1001u64..=1_999_999) {
            let e = EmployerId::definitive_from_sequence(seq).unwrap();
            prop_assert_eq!(EmployerId::parse(&e.to_string()).unwrap(), e);
            prop_assert_eq!(EmployerId::parse(&e.formatted()).unwrap(), e);
        }

        #[test]
        fn every_single_digit_corruption_is_detected(seq in 1001u64..=1_999_999) {
            let e = EmployerId::definitive_from_sequence(seq).unwrap();
            for bad in corruptions(&format!("{:09}", e.value())) {
                prop_assert!(EmployerId::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn parser_never_panics(input in "\\PC{0,24}") {
            let _ = EmployerId::parse(&input);
        }
    }
}
