//! Composio's connected-account resource (`ConnectedAccountModel`), the bodies that create
//! one, its list, and keyport's additions beside it: the explicit credential reveal, the
//! request material (`/info`) and the who-am-I check.
//!
//! Types that can carry live secret values (a reveal key's headers, a revealed credential,
//! a create body's fields) have no `Debug`, so they cannot reach a log by accident.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{Array, ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use super::{AuthSchemeName, count_param, total_pages, wire_enum};
use crate::service::{
    self, AuthParams, CheckOutcome, ConnectionPage, ConnectionView, CreatedConnection,
    RevealedCredential,
};

wire_enum!(
    /// A connection's lifecycle status.
    StatusName(service::ConnectionStatus),
    "ConnectionStatus"
);

/// Keys of the SDK's `AuthConnectionParamsModel` typed `Optional[str]`: any other JSON kind
/// under them fails its validation, so such values are left out of the wire shape.
const STRING_PARAMS: [&str; 9] = [
    "scope",
    "base_url",
    "client_id",
    "token_type",
    "access_token",
    "refresh_token",
    "client_secret",
    "consumer_id",
    "consumer_secret",
];

/// A connected account's `connectionParams`: its stored parameters (secret values read as
/// `********`), and the request material keyport injects — the API base URL and each
/// header and query parameter, redacted unless the key may reveal. The SDK reads
/// `headers["Authorization"]` of a GitHub connection.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = ConnectionParams)]
pub struct ConnectionParamsDto {
    /// Headers keyport puts on each request through this connection.
    pub headers: BTreeMap<String, String>,
    /// Query parameters keyport puts on each request through this connection.
    #[serde(rename = "queryParams")]
    pub query_params: BTreeMap<String, String>,
    /// The app's API base URL for this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The connection's other parameters; secret values read as `********`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl ConnectionParamsDto {
    fn new(stored: &Map<String, Value>, auth: &AuthParams) -> ConnectionParamsDto {
        let mut fields: Map<String, Value> = stored
            .iter()
            .filter(|(key, value)| {
                !STRING_PARAMS.contains(&key.as_str()) || value.is_string() || value.is_null()
            })
            .filter(|(key, _)| !matches!(key.as_str(), "headers" | "queryParams"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let base_url = match fields.remove("base_url") {
            Some(Value::String(stored)) => Some(stored),
            _ => auth.base_url.clone(),
        };
        ConnectionParamsDto {
            headers: auth.headers.clone(),
            query_params: auth.query.clone(),
            base_url,
            fields,
        }
    }
}

/// A connected account as the SDK parses it.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConnectedAccount)]
pub struct ConnectedAccountDto {
    #[schema(format = Uuid)]
    pub id: String,
    pub status: StatusName,
    /// Why the account is in its status (a refusal, an expiry…).
    pub status_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The app's catalog key, lower-case.
    pub app_unique_id: String,
    pub app_name: String,
    #[schema(format = Uuid)]
    pub integration_id: String,
    pub auth_scheme: AuthSchemeName,
    pub connection_params: ConnectionParamsDto,
    /// The entity, as the SDK matches it.
    pub client_unique_user_id: String,
    pub entity_id: String,
    pub labels: Vec<String>,
    /// `false` only while INACTIVE (disabled).
    pub enabled: bool,
}

impl From<&ConnectionView> for ConnectedAccountDto {
    fn from(v: &ConnectionView) -> Self {
        let c = &v.connection;
        ConnectedAccountDto {
            id: c.id.to_string(),
            status: StatusName(c.status),
            status_reason: c.status_reason.clone(),
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            app_unique_id: c.app_key.clone(),
            app_name: c.app_key.clone(),
            integration_id: c.integration_id.to_string(),
            auth_scheme: AuthSchemeName(v.auth_scheme),
            connection_params: ConnectionParamsDto::new(&v.params, &v.auth),
            client_unique_user_id: c.entity_id.as_str().to_string(),
            entity_id: c.entity_id.as_str().to_string(),
            labels: c.labels.clone(),
            enabled: c.status != service::ConnectionStatus::Inactive,
        }
    }
}

/// One page of connected accounts.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConnectedAccountList)]
pub struct ConnectedAccountPage {
    pub items: Vec<ConnectedAccountDto>,
    /// How many pages of `pageSize` hold every match (1 when no page size was asked).
    pub total_pages: u64,
    pub page: u64,
    /// The page size asked for; 0 means every match on one page.
    pub page_size: u64,
}

impl ConnectedAccountPage {
    pub fn new(found: &ConnectionPage, page: u64, page_size: u64) -> ConnectedAccountPage {
        ConnectedAccountPage {
            items: found.views.iter().map(ConnectedAccountDto::from).collect(),
            total_pages: total_pages(found.total, page_size),
            page,
            page_size,
        }
    }
}

/// `POST /api/v1/connectedAccounts`.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateConnection)]
pub struct CreateConnectionBody {
    #[schema(format = Uuid)]
    pub integration_id: String,
    /// An entity id: up to 128 characters, no commas or control characters; blank means
    /// default.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f,]*$")]
    pub user_uuid: Option<String>,
    /// An entity id: up to 128 characters, no commas or control characters; blank means
    /// default.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f,]*$")]
    pub entity_id: Option<String>,
    /// The connection's fields: the integration's expectedInputFields decide which.
    pub data: Option<Map<String, Value>>,
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Vec<String>>,
    /// Where to send the browser once a redirect flow completes.
    pub redirect_uri: Option<String>,
    /// keyport: check the credential with the provider (its who-am-I endpoint) before the
    /// connection becomes ACTIVE.
    pub validate: Option<bool>,
}

/// Labels: at most 32, each 1 to 64 printable characters, not only spaces.
fn labels_schema() -> Array {
    let label = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(
            r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        ));
    ArrayBuilder::new()
        .items(label)
        .max_items(Some(32))
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .build()
}

/// What creating a connection answers (Composio's `ConnectionRequestModel`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedConnection)]
pub struct CreatedConnectionDto {
    pub connection_status: StatusName,
    #[schema(format = Uuid)]
    pub connected_account_id: String,
    /// OAuth: the connect link to open in a browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

impl From<&CreatedConnection> for CreatedConnectionDto {
    fn from(created: &CreatedConnection) -> Self {
        CreatedConnectionDto {
            connection_status: StatusName(created.status),
            connected_account_id: created.id.to_string(),
            redirect_url: created.redirect_url.clone(),
        }
    }
}

/// `PATCH /api/v1/connectedAccounts/{id}`: what the user says about a connection; an
/// absent field is left as it is.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateConnectionBody)]
pub struct UpdateConnectionBody {
    /// The connection's labels, all of them (at most 32, each 1 to 64 printable characters).
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Vec<String>>,
    /// Make this the entity's default connection to its app (the one the proxy, named
    /// actions and MCP tools use when given an app), or stop it being that.
    pub default: Option<bool>,
}

/// `POST /api/v1/connectedAccounts/{id}/reconnect`: optional, like its body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ReconnectBody)]
pub struct ReconnectBody {
    /// Where the browser goes once the flow ends (loopback, or on the integration's
    /// `allowed_redirect_urls`).
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ConnectionListQuery {
    /// Entity ids, comma-separated (also userUuid, entityId).
    #[serde(rename = "user_uuid", alias = "userUuid")]
    #[param(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub user_uuid: Option<String>,
    #[param(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub entity_id: Option<String>,
    /// App keys, comma-separated.
    pub app_names: Option<String>,
    pub app_name: Option<String>,
    /// Statuses, comma-separated.
    #[param(
        pattern = r"^\s*(INITIATED|ACTIVE|INACTIVE|EXPIRED|FAILED|DELETED)?\s*(,\s*(INITIATED|ACTIVE|INACTIVE|EXPIRED|FAILED|DELETED)?\s*)*$"
    )]
    pub status: Option<String>,
    /// Labels, comma-separated: accounts carrying every one.
    pub labels: Option<String>,
    pub show_active_only: Option<bool>,
    pub integration_id: Option<String>,
    /// The page to answer, from 1.
    #[param(schema_with = count_param)]
    pub page: Option<u64>,
    /// Accounts per page; 0 or none means every match on one page.
    #[param(schema_with = count_param)]
    pub page_size: Option<u64>,
}

/// keyport's explicit reveal: the live credential.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Credentials)]
pub struct CredentialsDto {
    #[schema(format = Uuid)]
    pub connected_account_id: String,
    pub entity_id: String,
    pub app_name: String,
    pub auth_scheme: AuthSchemeName,
    /// The live credential material, unredacted.
    pub credentials: Map<String, Value>,
}

impl From<RevealedCredential> for CredentialsDto {
    fn from(revealed: RevealedCredential) -> Self {
        CredentialsDto {
            connected_account_id: revealed.connection.id.to_string(),
            entity_id: revealed.connection.entity_id.as_str().to_string(),
            app_name: revealed.connection.app_key,
            auth_scheme: AuthSchemeName(revealed.auth_scheme),
            credentials: revealed.params,
        }
    }
}

/// Where keyport puts a credential on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParameterIn {
    Header,
    Query,
}

/// One injected request parameter.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct InjectedParameter {
    #[serde(rename = "in")]
    pub location: ParameterIn,
    pub name: String,
    /// `********` unless the key may reveal.
    pub value: String,
}

/// Composio's `ConnectionParams` (`GET /api/v1/connectedAccounts/{id}/info`): the base URL
/// and each injected header or query parameter.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AuthParams)]
pub struct ConnectionInfoDto {
    pub base_url: String,
    pub parameters: Vec<InjectedParameter>,
    /// Always empty: keyport injects nothing into bodies.
    pub body: Map<String, Value>,
}

impl From<&AuthParams> for ConnectionInfoDto {
    fn from(auth: &AuthParams) -> Self {
        let located = |location: ParameterIn, map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(name, value)| InjectedParameter {
                    location,
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect::<Vec<_>>()
        };
        let mut parameters = located(ParameterIn::Header, &auth.headers);
        parameters.extend(located(ParameterIn::Query, &auth.query));
        ConnectionInfoDto {
            base_url: auth.base_url.clone().unwrap_or_default(),
            parameters,
            body: Map::new(),
        }
    }
}

/// The outcome of a who-am-I check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Check)]
pub struct CheckDto {
    /// Whether the provider accepted the credential.
    pub ok: bool,
    /// The provider's HTTP status.
    pub status: u16,
    pub message: String,
}

impl From<&CheckOutcome> for CheckDto {
    fn from(o: &CheckOutcome) -> Self {
        CheckDto {
            ok: o.ok,
            status: o.status,
            message: o.message.clone(),
        }
    }
}

/// `POST /api/v1/connectedAccounts/{id}/test`: the account after the check, and the check.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = TestedConnectedAccount)]
pub struct TestedAccountDto {
    #[serde(flatten)]
    pub account: ConnectedAccountDto,
    pub check: CheckDto,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait at most (default 30); more than 120 counts as 120.
    #[param(schema_with = count_param)]
    pub timeout: Option<u64>,
}
