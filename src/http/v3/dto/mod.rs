//! The v3 wire model: every body the v3.1 API reads or writes, in its snake_case
//! spelling, with the field names of the SDKs' own types (`composio_client/types`,
//! `@composio/client`). Like `http::dto`, these are the only JSON the surface speaks and
//! convert from the service's views; golden tests (`tests/it/golden/v3/`) pin them.
//!
//! The status mapping, keyport's lifecycle onto v3's names, is here and nowhere else:
//!
//! | keyport | v3 | note |
//! |---|---|---|
//! | INITIATED | INITIATED | a browser flow is waiting (keyport never shows INITIALIZING) |
//! | ACTIVE | ACTIVE | |
//! | INACTIVE | INACTIVE | `is_disabled: true` |
//! | EXPIRED | EXPIRED | the provider refused a refresh; reconnect |
//! | FAILED | FAILED | the flow was refused or not completed in 10 minutes |
//! | DELETED | REVOKED | deleted: credentials wiped, tokens revoked at the provider |

pub mod auth_config;
pub mod connected_account;
pub mod tool;
pub mod toolkit;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use auth_config::*;
pub use connected_account::*;
pub use tool::*;
pub use toolkit::*;

use crate::http::dto::ExpectedFieldDto;
use crate::service::{ConnectionStatus, Error, FieldSpec};

/// A field keyport refuses unless it is absent or null: documented as null only, so the
/// document promises nothing the server will not do.
pub fn refused() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .description(Some(
            "Refused unless absent or null: keyport has no use for it",
        ))
        .build()
}

/// A page size: a whole number from 1 (at most 1000 are answered).
pub fn limit_param() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(1))
        .build()
}

/// A tool or toolkit version: `latest` or keyport's one version.
pub fn version_param() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["latest", crate::service::ACTION_VERSION]))
        .build()
}

/// A list page: `items`, the cursor of the next page (none on the last), and counts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct V3Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; null on the last one.
    #[schema(required)]
    pub next_cursor: Option<String>,
    pub total_pages: u64,
    pub current_page: u64,
    pub total_items: u64,
}

/// `{"success": true, "message": …}`: what updates, status changes and deletes answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct V3Success {
    pub success: bool,
    pub message: String,
}

impl V3Success {
    pub fn new(message: impl Into<String>) -> V3Success {
        V3Success {
            success: true,
            message: message.into(),
        }
    }
}

/// A connected account's status in v3's names (see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum V3Status {
    Initializing,
    Initiated,
    Active,
    Failed,
    Expired,
    Inactive,
    Revoked,
}

impl From<ConnectionStatus> for V3Status {
    fn from(status: ConnectionStatus) -> Self {
        match status {
            ConnectionStatus::Initiated => V3Status::Initiated,
            ConnectionStatus::Active => V3Status::Active,
            ConnectionStatus::Inactive => V3Status::Inactive,
            ConnectionStatus::Expired => V3Status::Expired,
            ConnectionStatus::Failed => V3Status::Failed,
            ConnectionStatus::Deleted => V3Status::Revoked,
        }
    }
}

impl V3Status {
    /// The keyport status a v3 status names; none for INITIALIZING, which keyport never
    /// holds.
    pub fn keyport(self) -> Option<ConnectionStatus> {
        match self {
            V3Status::Initializing => None,
            V3Status::Initiated => Some(ConnectionStatus::Initiated),
            V3Status::Active => Some(ConnectionStatus::Active),
            V3Status::Inactive => Some(ConnectionStatus::Inactive),
            V3Status::Expired => Some(ConnectionStatus::Expired),
            V3Status::Failed => Some(ConnectionStatus::Failed),
            V3Status::Revoked => Some(ConnectionStatus::Deleted),
        }
    }

    pub fn parse(raw: &str) -> Result<V3Status, Error> {
        serde_json::from_value(serde_json::Value::String(raw.trim().to_ascii_uppercase())).map_err(
            |_| {
                Error::invalid(format!(
                    "statuses: {raw:?} is not one of INITIALIZING, INITIATED, ACTIVE, FAILED, \
                     EXPIRED, INACTIVE, REVOKED"
                ))
            },
        )
    }
}

/// A field an auth config or a connection takes, as toolkits and auth configs list them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Field)]
pub struct FieldDto {
    pub name: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub description: String,
    /// `string`, `boolean`, `integer`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub is_secret: bool,
    /// A string default; keyport applies other defaults itself.
    #[schema(required)]
    pub default: Option<String>,
    pub user_visible: bool,
}

impl From<&FieldSpec> for FieldDto {
    /// The v1 field (`ExpectedFieldDto`) under v3's names.
    fn from(f: &FieldSpec) -> Self {
        let v1 = ExpectedFieldDto::from(f);
        FieldDto {
            name: v1.name,
            display_name: v1.display_name,
            description: v1.description,
            kind: v1.kind,
            required: v1.required,
            is_secret: v1.is_secret,
            default: v1.default,
            user_visible: true,
        }
    }
}

/// A toolkit as other resources name it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolkitRef)]
pub struct ToolkitRef {
    pub slug: String,
    /// keyport's catalog has no logos: always empty.
    pub logo: String,
}

impl ToolkitRef {
    pub fn new(slug: &str) -> ToolkitRef {
        ToolkitRef {
            slug: slug.to_string(),
            logo: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyport_status_has_a_v3_name_that_maps_back() {
        for status in ConnectionStatus::ALL {
            assert_eq!(V3Status::from(status).keyport(), Some(status));
        }
        assert_eq!(V3Status::parse("revoked").ok(), Some(V3Status::Revoked));
        assert_eq!(V3Status::Initializing.keyport(), None);
        assert!(V3Status::parse("DELETED").is_err());
    }
}
