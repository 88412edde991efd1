use thiserror::Error;

/// Why a token, assertion or password was refused. `code()` is stable and
/// appears in error answers; messages never contain the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("the token is malformed: it {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the algorithm {0} is not accepted here")]
    Algorithm(String),
    #[error("claim {claim} is invalid: {reason}")]
    Claim { claim: &'static str, reason: String },
    #[error("the public key is not usable: {0}")]
    Key(String),
    #[error("password hashing failed")]
    Hashing,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "token_malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::UnknownKey => "unknown_key",
            Self::Algorithm(_) => "unsupported_algorithm",
            Self::Claim { .. } => "invalid_claim",
            Self::Key(_) => "invalid_key",
            Self::Hashing => "hashing_failed",
        }
    }
}
