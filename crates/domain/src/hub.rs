//! The hub's vocabulary: services, outcomes, the 8-digit error codes, and
//! the audit record whose hash chain makes the log verifiable.

use std::fmt;

/// Services the hub routes to internal authentic sources.
pub const INTERNAL_SERVICES: &[&str] = &["identification", "employment", "employer"];

/// Whether a service is about one person (needs an SSIN, and the
/// integration check applies).
pub fn is_person_service(service: &str) -> bool {
    service != "employer"
}

/// A service name: lowercase letters, digits and `-`, 2 to 40 characters.
pub fn valid_service_name(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Error codes `TCSSSXXX`: T type (3 error), C category (1 user input,
/// 3 resource, 5 security), SSS service (001 the hub's message service,
/// 002 the reference directory), XXX sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubCode {
    NotAuthorized,
    NotIntegrated,
    ProviderTimeout,
    ProviderFailed,
    UnknownService,
    InvalidInput,
    PersonUnknown,
    ReferenceOverlap,
    ReferenceUnknown,
    CapacityUnknown,
}

impl HubCode {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotAuthorized => "35001001",
            Self::NotIntegrated => "35001002",
            Self::ProviderTimeout => "33001003",
            Self::ProviderFailed => "33001004",
            Self::UnknownService => "31001005",
            Self::InvalidInput => "31001006",
            Self::PersonUnknown => "32001007",
            Self::ReferenceOverlap => "32002001",
            Self::ReferenceUnknown => "32002002",
            Self::CapacityUnknown => "31002003",
        }
    }
}

impl fmt::Display for HubCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One audited event, as hashed. Field order and encoding are part of the
/// chain's definition: change them and every existing chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub ticket: String,
    pub at: i64,
    /// `message`, `reference.register`, `reference.unregister`,
    /// `authorization.grant`, `authorization.revoke`, `person.update`, ...
    pub kind: String,
    /// Who: `institution:CODE`, `operator`, ...
    pub actor: String,
    pub service: Option<String>,
    pub purpose: Option<String>,
    /// The person concerned (canonical SSIN), if any.
    pub ssin: Option<String>,
    /// `forwarded`, `not-authorized`, `not-integrated`, `provider-timeout`,
    /// `provider-failed`, `not-found`, `done`, ...
    pub outcome: String,
    pub detail: Option<String>,
    /// SHA-256 of the answer that left the hub, for messages.
    pub answer_digest: Option<Vec<u8>>,
}

impl AuditRecord {
    /// The canonical bytes hashed after the previous entry's hash: every
    /// field length-prefixed (u32 big-endian), absent fields as 0xFFFFFFFF,
    /// so no two different records encode alike.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, field: Option<&[u8]>) {
            match field {
                Some(b) => {
                    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
                    out.extend_from_slice(b);
                }
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"kruispunt-audit-v1");
        out.extend_from_slice(&self.seq.to_be_bytes());
        put(&mut out, Some(self.ticket.as_bytes()));
        out.extend_from_slice(&self.at.to_be_bytes());
        put(&mut out, Some(self.kind.as_bytes()));
        put(&mut out, Some(self.actor.as_bytes()));
        put(&mut out, self.service.as_deref().map(str::as_bytes));
        put(&mut out, self.purpose.as_deref().map(str::as_bytes));
        put(&mut out, self.ssin.as_deref().map(str::as_bytes));
        put(&mut out, Some(self.outcome.as_bytes()));
        put(&mut out, self.detail.as_deref().map(str::as_bytes));
        put(&mut out, self.answer_digest.as_deref());
        out
    }
}

/// The cryptography the audit log needs, provided by the security crate.
pub trait AuditCrypto: Send + Sync {
    /// SHA-256(prev_hash || record.canonical_bytes()).
    fn chain(&self, prev_hash: &[u8], record: &AuditRecord) -> Vec<u8>;
    /// Signs "the chain up to `seq` has hash `hash`": (key id, signature).
    fn sign_checkpoint(&self, seq: i64, hash: &[u8]) -> (String, Vec<u8>);
}

/// The message a checkpoint signature covers.
pub fn checkpoint_message(seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut m = b"kruispunt-audit-checkpoint-v1".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> AuditRecord {
        AuditRecord {
            seq: 1,
            ticket: "t".into(),
            at: 5,
            kind: "message".into(),
            actor: "institution:ONEM".into(),
            service: Some("identification".into()),
            purpose: Some("1".into()),
            ssin: None,
            outcome: "forwarded".into(),
            detail: None,
            answer_digest: None,
        }
    }

    #[test]
    fn encoding_distinguishes_absent_empty_and_shifted_fields() {
        let a = rec();
        let mut b = rec();
        b.ssin = Some(String::new());
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        let mut c = rec();
        c.service = Some("identificatio".into());
        c.purpose = Some("n1".into());
        assert_ne!(a.canonical_bytes(), c.canonical_bytes());
    }

    #[test]
    fn codes_have_eight_digits_and_the_right_type() {
        for c in [
            HubCode::NotAuthorized,
            HubCode::NotIntegrated,
            HubCode::ProviderTimeout,
            HubCode::ReferenceOverlap,
        ] {
            assert_eq!(c.code().len(), 8);
            assert!(c.code().starts_with('3'));
        }
        assert_eq!(
            &HubCode::NotAuthorized.code()[1..2],
            "5",
            "security category"
        );
    }
}
