//! The daily registration identifier (`DailyRegistrationId`, zone 01085),
//! assigned by the service when a daily registration is created.

use super::{DimonaPeriodId, IdError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Twelve digits with the check digits of a Dimona period id (`CC = first
/// ten mod 97`). The service draws them from their own range (sequence
/// values from [`DailyRegistrationId::FIRST_SEQUENCE`]), so that a
/// registration id is never also a period id it assigned.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DailyRegistrationId(u64);

impl DailyRegistrationId {
    /// The first sequence value of daily registrations (period ids use
    /// `1_000_000_000..`): ids `500000000…`.
    pub const FIRST_SEQUENCE: u64 = 5_000_000_000;

    pub fn parse(input: &str) -> Result<Self, IdError> {
        DimonaPeriodId::parse(input).map(|p| Self(p.value()))
    }

    /// The id of the `n`th registration (0-based), in the registrations'
    /// own range.
    pub fn from_counter(n: u64) -> Result<Self, IdError> {
        let seq = n
            .checked_add(Self::FIRST_SEQUENCE)
            .filter(|s| *s < 10_000_000_000)
            .ok_or(IdError::OutOfRange {
                range: "0-4999999999",
            })?;
        DimonaPeriodId::from_sequence(seq).map(|p| Self(p.value()))
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    pub fn as_i64(&self) -> i64 {
        // < 10^12, far below i64::MAX.
        self.0 as i64
    }
}

impl fmt::Display for DailyRegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl fmt::Debug for DailyRegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DailyRegistrationId({self})")
    }
}

impl FromStr for DailyRegistrationId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Serialised as a JSON number, like period ids.
impl Serialize for DailyRegistrationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for DailyRegistrationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DimonaPeriodId::deserialize(d).map(|p| Self(p.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::single_digit_corruption::corruptions;
    use proptest::prelude::*;

    #[test]
    fn ids_come_from_their_own_range_with_period_check_digits() {
        let first = DailyRegistrationId::from_counter(0).unwrap();
        assert_eq!(
            first.to_string(),
            format!("5000000000{:02}", 5_000_000_000u64 % 97)
        );
        assert!(first.value() >= 500_000_000_000);
        assert!(DailyRegistrationId::from_counter(4_999_999_999).is_ok());
        assert!(DailyRegistrationId::from_counter(5_000_000_000).is_err());
        assert!(DailyRegistrationId::from_counter(u64::MAX).is_err());
        assert_eq!(
            DailyRegistrationId::parse("123456789000"),
            Err(IdError::Checksum)
        );
    }

    proptest! {
        #[test]
        fn round_trips(n in 0u64..5_000_000_000) {
            let id = DailyRegistrationId::from_counter(n).unwrap();
            prop_assert_eq!(DailyRegistrationId::parse(&id.to_string()).unwrap(), id);
            // Never in the range of the period ids the service assigns.
            prop_assert!(id.value() >= 500_000_000_000);
        }

        #[test]
        fn every_single_digit_corruption_is_detected(n in 0u64..5_000_000_000) {
            let id = DailyRegistrationId::from_counter(n).unwrap();
            for bad in corruptions(&id.to_string()) {
                prop_assert!(DailyRegistrationId::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn parser_never_panics(input in "\\PC{0,24}") {
            let _ = DailyRegistrationId::parse(&input);
        }
    }
}
