//! The one validation error of the domain: which field, and why.

use std::fmt;

/// A rejected input value. `field` uses the public (camelCase) name of the
/// field so that every layer can report it unchanged; `message` never
/// contains the offending value (it may be personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Wraps an identifier parse error for `field`.
    pub fn id(field: &str, what: &str, err: crate::ids::IdError) -> Self {
        Self::new(field, format!("{what} {err}"))
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for Invalid {}
