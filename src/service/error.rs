//! The service-level error: every failure a caller of the service can see, each with a
//! stable `code()`. It sits on top of the layers below it: ids, store, vault, net, auth,
//! oauth, providers and actions each have their own error, joined here with `#[from]` so
//! the cause travels with it (`source()`) instead of being flattened into a string.
//! `http/error.rs` is the one place that turns these into HTTP responses. Messages are
//! written for the caller and never carry a secret value; internal detail goes to the log.
//!
//! The joined errors are re-exported here: they are part of the service's API, so a
//! surface above (http) maps them without importing the layers below the service.

pub use crate::actions::ActionError;
pub use crate::auth::AuthError;
pub use crate::auth::oauth2::OAuthError;
pub use crate::auth::oauth2::discovery::DiscoveryError;
pub use crate::domain::api_key::Restriction;
pub use crate::domain::connection::IllegalTransition;
pub use crate::ids::ParseIdError;
pub use crate::net::NetError;
pub use crate::providers::fields::FieldError;
pub use crate::store::StoreError;
pub use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "missing or invalid API key; send it in the x-api-key header or as Authorization: Bearer"
    )]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The key's permission allows this, but one of its restrictions does not.
    #[error("{message}")]
    Restricted {
        restriction: Restriction,
        message: String,
    },
    #[error("{0}")]
    TooLarge(String),
    #[error("the upstream service failed: {0}")]
    Upstream(String),
    #[error("the upstream service did not answer in time")]
    UpstreamTimeout,
    /// A bug or an environment failure with no lower-layer error to carry; the detail is
    /// logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),

    // The layers below, each keeping its own error as the cause.
    #[error(transparent)]
    Id(#[from] ParseIdError),
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{}", oauth_message(.0))]
    OAuth(#[from] OAuthError),
    #[error("{}", net_message(.0))]
    Net(#[from] NetError),
    /// A remote MCP server's authorization could not be discovered or registered with.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

fn oauth_message(e: &OAuthError) -> String {
    match e {
        OAuthError::Config(_) => e.to_string(),
        _ => format!("the upstream service failed: {e}"),
    }
}

fn net_message(e: &NetError) -> String {
    match e {
        NetError::Timeout => Error::UpstreamTimeout.to_string(),
        _ => format!("the upstream service failed: {e}"),
    }
}

impl Error {
    /// Stable machine-readable code, sent as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::InvalidInput(_) => "invalid_input",
            Error::Conflict(_) => "conflict",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Restricted { restriction, .. } => restriction.code(),
            Error::TooLarge(_) => "payload_too_large",
            Error::Upstream(_) => "upstream_failed",
            Error::UpstreamTimeout => "upstream_timeout",
            Error::Internal(_) | Error::Store(_) | Error::Json(_) => "internal",
            Error::Id(e) => e.code(),
            Error::Field(e) => e.code(),
            Error::IllegalTransition(_) => "illegal_transition",
            Error::Vault(e) => e.code(),
            Error::Action(e) => e.code(),
            Error::Auth(e) => e.code(),
            Error::OAuth(e) => e.code(),
            Error::Net(e) => e.code(),
            Error::Discovery(_) => "mcp_discovery_failed",
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

    /// The work met a blocking point inside [`crate::inline::attempt`]: run it again on
    /// the blocking pool.
    pub fn would_block(&self) -> bool {
        matches!(self, Error::Store(StoreError::WouldBlock(_)))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn lower_layer_errors_keep_their_code_and_cause() {
        let id: Error = "nope"
            .parse::<crate::ids::ConnectionId>()
            .err()
            .map(Error::from)
            .unwrap_or(Error::Unauthorized);
        assert_eq!(id.code(), "not_found");
        assert_eq!(id.to_string(), "connected account \"nope\" not found");

        let store = Error::from(StoreError::NoVault);
        assert_eq!(store.code(), "internal");
        assert!(
            store
                .source()
                .is_some_and(|s| s.to_string().contains("no vault header")),
            "the store error is the cause"
        );

        assert_eq!(
            Error::from(AuthError::Missing("token".into())).code(),
            "conflict"
        );
        let timeout = Error::from(NetError::Timeout);
        assert_eq!(timeout.code(), "upstream_timeout");
        assert_eq!(timeout.to_string(), Error::UpstreamTimeout.to_string());
        let refused = Error::from(OAuthError::Refused {
            code: "invalid_grant".into(),
            description: None,
        });
        assert_eq!(refused.code(), "upstream_failed");
        assert!(refused.source().is_some());
        assert_eq!(
            Error::from(OAuthError::Config("token_url: x".into())).code(),
            "invalid_input"
        );
    }

    /// Moved from `service/issued.rs` with `auth_error`, which `#[from]` replaced.
    #[test]
    fn provider_refusals_are_not_field_errors() {
        assert_eq!(
            Error::from(AuthError::field("private_key", "bad")).code(),
            "invalid_input"
        );
        assert_eq!(
            Error::from(AuthError::Upstream("x".into())).code(),
            "upstream_failed"
        );
        assert_eq!(Error::from(AuthError::Timeout).code(), "upstream_timeout");
    }
}
