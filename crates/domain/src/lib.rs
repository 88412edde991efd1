//! The kruispunt domain: identifiers, the authentic-source registers, the
//! network's institutions and sectors, principals and scopes.
//!
//! This crate does no IO and knows neither HTTP nor SQL. Time and randomness
//! come in through [`clock::Clock`] and [`clock::Entropy`] so that callers
//! (and tests) control them.

pub mod clock;
pub mod dimona;
pub mod hub;
pub mod ids;
pub mod invalid;
pub mod principal;
pub mod registers;
pub mod sectors;

pub use invalid::Invalid;
