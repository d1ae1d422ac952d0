//! The service-level error: every failure a caller can see, each with a stable `code()`.
//! Layers below (vault, store, providers) have their own errors joined here with `#[from]`;
//! `http/error.rs` is the one place that maps these codes to HTTP statuses. Messages are
//! written for the caller and never carry a secret value; internal detail goes to the log.

use crate::domain::connection::IllegalTransition;
use crate::providers::fields::FieldError;
use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error(
        "missing or invalid API key; send it in the x-api-key header or as Authorization: Bearer"
    )]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    TooLarge(String),
    #[error("the upstream service failed: {0}")]
    Upstream(String),
    #[error("the upstream service did not answer in time")]
    UpstreamTimeout,
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::InvalidInput(_) | Error::Field(_) => "invalid_input",
            Error::Conflict(_) => "conflict",
            Error::IllegalTransition(_) => "illegal_transition",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Vault(e) => e.code(),
            Error::TooLarge(_) => "payload_too_large",
            Error::Upstream(_) => "upstream_failed",
            Error::UpstreamTimeout => "upstream_timeout",
            Error::Internal(_) => "internal",
        }
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Internal(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
