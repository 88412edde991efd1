//! Identifiers of the Belgian social-security network, parsed once at the
//! boundary and carried as types afterwards (parse, don't validate).
//!
//! Every parser accepts the printed forms people actually type (dots,
//! dashes, spaces, a `BE` prefix where it exists) and stores the canonical
//! digits. Every error says precisely what is wrong so callers can report it
//! against the field that carried the value.

mod daily_registration;
mod dimona_period;
mod enterprise;
mod onss;
mod ssin;

pub use daily_registration::DailyRegistrationId;
pub use dimona_period::DimonaPeriodId;
pub use enterprise::{EnterpriseNumber, EstablishmentUnitNumber};
pub use onss::{EmployerId, OnssNumberKind};
pub use ssin::{BirthDateParts, Sex, Ssin, SsinKind};

use thiserror::Error;

/// Why a string is not a valid identifier. Messages are complete sentences
/// without the value itself, so they can be logged without personal data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error(
        "contains the character {found:?} at position {position}; only digits (and the separators . - / space) are allowed"
    )]
    InvalidCharacter { position: usize, found: char },
    #[error("must have {expected} digits, found {found}")]
    WrongLength {
        expected: &'static str,
        found: usize,
    },
    #[error("has wrong check digits")]
    Checksum,
    #[error("has an impossible birth month ({0:02})")]
    InvalidMonth(u8),
    #[error("has an impossible birth day ({day:02}) for month {month:02}")]
    InvalidDay { month: u8, day: u8 },
    #[error("has an invalid sequence number (000 and 999 are never assigned)")]
    InvalidSequence,
    #[error("must start with {expected}")]
    InvalidLeadingDigit { expected: &'static str },
    #[error("is outside the assigned range {range}")]
    OutOfRange { range: &'static str },
}

/// Keeps only the digits of `input`, accepting common separators.
/// Returns the digits as ASCII bytes.
fn digits(input: &str) -> Result<Vec<u8>, IdError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(IdError::Empty);
    }
    let mut out = Vec::with_capacity(trimmed.len());
    for (position, ch) in trimmed.chars().enumerate() {
        match ch {
            '0'..='9' => out.push(ch as u8),
            '.' | '-' | ' ' | '/' => {}
            found => return Err(IdError::InvalidCharacter { position, found }),
        }
    }
    if out.is_empty() {
        return Err(IdError::Empty);
    }
    Ok(out)
}

/// The numeric value of ASCII digits (at most 18 of them, so no overflow).
fn number(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
}

fn ascii(digits: &[u8]) -> String {
    digits.iter().map(|&d| d as char).collect()
}

#[cfg(test)]
mod single_digit_corruption {
    //! Shared property: changing any single digit of a valid identifier must
    //! be detected (mod-97 check digits guarantee it).

    /// Every variant of `canonical` with exactly one digit changed.
    pub fn corruptions(canonical: &str) -> Vec<String> {
        let bytes = canonical.as_bytes();
        let mut out = Vec::new();
        for i in 0..bytes.len() {
            for d in b'0'..=b'9' {
                if d != bytes[i] {
                    let mut v = bytes.to_vec();
                    v[i] = d;
                    out.push(v.iter().map(|&b| b as char).collect());
                }
            }
        }
        out
    }
}
