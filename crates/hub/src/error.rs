use kruispunt_domain::Invalid;
use kruispunt_domain::hub::HubCode;
use kruispunt_store::StoreError;
use thiserror::Error;

/// Errors of the hub layer; the web crate maps them to HTTP.
#[derive(Debug, Error)]
pub enum HubError {
    /// Bad input, naming the field.
    #[error("{0}")]
    Invalid(Invalid),
    /// Input the hub understood but cannot act on (unknown capacity,
    /// unknown person...), with its 8-digit code and the field.
    #[error("{message}")]
    Rejected {
        code: HubCode,
        field: Option<String>,
        message: String,
        status: u16,
    },
    #[error("this service is not known to the hub")]
    UnknownService,
    #[error("{0}")]
    Forbidden(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The audit entry could not be made durable: nothing was answered.
    #[error("the audit log is unavailable: {0}")]
    AuditUnavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<Invalid> for HubError {
    fn from(i: Invalid) -> Self {
        HubError::Invalid(i)
    }
}
