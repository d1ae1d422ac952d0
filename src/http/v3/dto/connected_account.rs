//! Connected accounts (keyport's connections): the resource
//! (`ConnectedAccountRetrieveResponse`, the list's items), the create and link bodies and
//! answers, the list query and the status change. A user id is keyport's entity id.
//! `state` is v3's per-scheme union `{"authScheme", "val": {"status", …fields}}`; its
//! fields are the connection's parameters with every secret `********`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::V3Status;
use crate::http::dto::AuthSchemeName;
use crate::service::{AuthScheme, ConnectionView, CreatedConnection, LinkedConnection};

/// `{"id": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3IdRef)]
pub struct IdRef {
    pub id: String,
}

/// `{"uuid": …}`: the v1 API's spelling of an id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3UuidRef)]
pub struct UuidRef {
    #[schema(format = Uuid)]
    pub uuid: String,
}

/// The auth config a connected account was made through.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3AccountAuthConfig)]
pub struct AccountAuthConfig {
    pub id: String,
    pub auth_scheme: AuthSchemeName,
    pub is_composio_managed: bool,
    pub is_disabled: bool,
    pub deprecated: UuidRef,
}

/// A connection's state: its scheme and `val`, the status with its fields.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ConnectionState)]
pub struct StateDto {
    #[serde(rename = "authScheme")]
    pub auth_scheme: AuthSchemeName,
    /// `status` and the connection's fields (secrets `********`).
    pub val: Map<String, Value>,
}

impl StateDto {
    fn new(scheme: AuthScheme, status: V3Status, fields: &Map<String, Value>) -> StateDto {
        let mut val = fields.clone();
        val.insert(
            "status".into(),
            serde_json::to_value(status).unwrap_or(Value::Null),
        );
        StateDto {
            auth_scheme: AuthSchemeName(scheme),
            val,
        }
    }
}

/// `{"labels", "uuid"}`: the v1 API's names for the account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3AccountDeprecated)]
pub struct AccountDeprecated {
    pub labels: Vec<String>,
    #[schema(format = Uuid)]
    pub uuid: String,
}

/// `{"slug": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3SlugRef)]
pub struct SlugRef {
    pub slug: String,
}

/// A connected account as the v3 API shows it.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ConnectedAccount)]
pub struct ConnectedAccountDto {
    /// `ca_…`; the v1 API's UUID (`deprecated.uuid`) names the same account.
    pub id: String,
    pub user_id: String,
    pub status: V3Status,
    #[schema(required)]
    pub status_reason: Option<String>,
    pub auth_config: AccountAuthConfig,
    pub toolkit: SlugRef,
    pub state: StateDto,
    /// The same fields as `state.val`, without the status.
    pub data: Map<String, Value>,
    pub params: Map<String, Value>,
    /// True while INACTIVE.
    pub is_disabled: bool,
    /// keyport has no aliases: always null.
    #[schema(required)]
    pub alias: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deprecated: AccountDeprecated,
}

impl From<&ConnectionView> for ConnectedAccountDto {
    fn from(v: &ConnectionView) -> Self {
        let c = &v.connection;
        let status = V3Status::from(c.status);
        ConnectedAccountDto {
            id: c.id.v3(),
            user_id: c.entity_id.as_str().to_string(),
            status,
            status_reason: c.status_reason.clone(),
            auth_config: AccountAuthConfig {
                id: c.integration_id.v3(),
                auth_scheme: AuthSchemeName(v.auth_scheme),
                is_composio_managed: false,
                is_disabled: !v.integration_enabled,
                deprecated: UuidRef {
                    uuid: c.integration_id.to_string(),
                },
            },
            toolkit: SlugRef {
                slug: c.app_key.clone(),
            },
            state: StateDto::new(v.auth_scheme, status, &v.params),
            data: v.params.clone(),
            params: v.params.clone(),
            is_disabled: c.status == crate::service::ConnectionStatus::Inactive,
            alias: None,
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            deprecated: AccountDeprecated {
                labels: c.labels.clone(),
                uuid: c.id.to_string(),
            },
        }
    }
}

/// `GET /connected_accounts`: every list may repeat its key or join values with commas.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectedAccountListQuery {
    /// User ids, comma-separated: each up to 128 characters, no control characters.
    #[param(
        pattern = r"^[^\u0000-\u001f\u007f-\u009f,]{0,128}(,[^\u0000-\u001f\u007f-\u009f,]{0,128})*$"
    )]
    pub user_ids: Option<String>,
    /// Auth config ids (`ac_…` or UUIDs).
    pub auth_config_ids: Option<String>,
    /// Toolkit slugs.
    pub toolkit_slugs: Option<String>,
    /// v3 statuses, comma-separated (see the status table in `http::v3::dto`).
    #[param(
        pattern = r"^\s*(INITIALIZING|INITIATED|ACTIVE|FAILED|EXPIRED|INACTIVE|REVOKED)?\s*(,\s*(INITIALIZING|INITIATED|ACTIVE|FAILED|EXPIRED|INACTIVE|REVOKED)?\s*)*$"
    )]
    pub statuses: Option<String>,
    /// Connected account ids.
    pub connected_account_ids: Option<String>,
    #[param(schema_with = crate::http::v3::cursor_param)]
    pub cursor: Option<String>,
    #[param(schema_with = super::limit_param)]
    pub limit: Option<f64>,
    /// `created_at` (default) or `updated_at`.
    #[param(pattern = "^(created_at|updated_at)?$")]
    pub order_by: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)?$")]
    pub order_direction: Option<String>,
    /// `PRIVATE` or `ALL` (every keyport account is private); `SHARED` matches nothing.
    pub account_type: Option<String>,
}

/// What a connection is created with: its user, where the browser goes afterwards, and
/// its state (the credential, for token schemes).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3ConnectionOptions)]
pub struct ConnectionOptions {
    pub user_id: Option<String>,
    pub callback_url: Option<String>,
    pub state: Option<StateInput>,
    /// Deprecated spelling of the state's fields.
    pub data: Option<Map<String, Value>>,
    /// Deprecated spelling of `callback_url`.
    pub redirect_uri: Option<String>,
    /// Refused unless empty: keyport has no aliases (use labels through the v1 API).
    #[schema(max_length = 0)]
    pub alias: Option<String>,
    /// Refused: every keyport account is private.
    #[schema(schema_with = super::refused)]
    pub experimental: Option<Value>,
    /// Accepted and without effect.
    pub deprecated_is_v1_rerouted: Option<bool>,
}

/// A state as a client sends it: `val`'s fields other than `status` are the connection's.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = V3StateInput)]
pub struct StateInput {
    #[serde(rename = "authScheme", alias = "auth_scheme")]
    #[schema(value_type = AuthSchemeName)]
    pub auth_scheme: String,
    #[serde(default)]
    pub val: Map<String, Value>,
}

/// `POST /connected_accounts`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3CreateConnectedAccount)]
pub struct CreateConnectedAccountBody {
    pub auth_config: IdRef,
    pub connection: ConnectionOptions,
    /// Check the credential with the provider's who-am-I endpoint first.
    pub validate_credentials: Option<bool>,
}

/// What `POST /connected_accounts` answers.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3CreatedConnectedAccount)]
pub struct CreatedConnectedAccountDto {
    pub id: String,
    /// `val.status`, and `val.redirectUrl` for a browser flow.
    #[serde(rename = "connectionData")]
    pub connection_data: StateDto,
    pub status: V3Status,
    /// The connect link to open in a browser (OAuth schemes).
    #[schema(required)]
    pub redirect_url: Option<String>,
}

impl From<&CreatedConnection> for CreatedConnectedAccountDto {
    fn from(created: &CreatedConnection) -> Self {
        let scheme = created.auth_scheme;
        let status = V3Status::from(created.status);
        let mut fields = Map::new();
        if let Some(url) = &created.redirect_url {
            fields.insert("redirectUrl".into(), Value::String(url.clone()));
        }
        CreatedConnectedAccountDto {
            id: created.id.v3(),
            connection_data: StateDto::new(scheme, status, &fields),
            status,
            redirect_url: created.redirect_url.clone(),
        }
    }
}

/// `POST /connected_accounts/link`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3CreateLink)]
pub struct CreateLinkBody {
    pub auth_config_id: String,
    pub user_id: String,
    pub callback_url: Option<String>,
    /// Refused unless empty: keyport has no aliases.
    #[schema(max_length = 0)]
    pub alias: Option<String>,
    /// Fields to start the connection with (a subdomain…).
    pub connection_data: Option<StateInput>,
    /// Refused: every keyport account is private.
    #[schema(schema_with = super::refused)]
    pub experimental: Option<Value>,
}

/// What `POST /connected_accounts/link` answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Link)]
pub struct LinkDto {
    pub connected_account_id: String,
    /// keyport's connect page for this flow.
    pub redirect_url: String,
    /// The single-use token in `redirect_url`.
    pub link_token: String,
    pub expires_at: String,
}

impl From<&LinkedConnection> for LinkDto {
    fn from(linked: &LinkedConnection) -> Self {
        let url = linked.created.redirect_url.clone().unwrap_or_default();
        LinkDto {
            connected_account_id: linked.created.id.v3(),
            link_token: url.rsplit('/').next().unwrap_or_default().to_string(),
            redirect_url: url,
            expires_at: linked.expires_at.clone(),
        }
    }
}

/// `PATCH /connected_accounts/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3AccountStatusChange)]
pub struct StatusChangeBody {
    pub enabled: bool,
}
