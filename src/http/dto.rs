//! Wire shapes, in Composio's spelling (camelCase resources, `{"items":[…]}` lists). The
//! domain derives no `Serialize`; these structs are the only JSON the API writes for its
//! resources, and golden tests pin them.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::AuthScheme;
use crate::providers::FieldSpec;
use crate::service::Error;
use crate::service::{ConnectionView, IntegrationView, REDACTED};

pub fn items<T: Serialize>(list: Vec<T>) -> Value {
    json!({"items": list, "totalPages": 1})
}

/// A comma-separated query value as a list; empty parts dropped.
pub fn csv(raw: Option<String>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

pub fn parse_scheme(raw: &str) -> Result<AuthScheme, Error> {
    raw.parse::<AuthScheme>()
        .map_err(|e| Error::invalid(format!("authScheme: {e}")))
}

/// Composio's `ExpectedFieldInput` / `AuthSchemeField`. The SDK types `default` as a string
/// and refuses any other JSON kind, so only string defaults are shown here; keyport applies
/// its non-string defaults (objects, lists, booleans) itself when the field is left out.
#[derive(Serialize)]
pub struct ExpectedFieldDto {
    pub name: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub is_secret: bool,
    pub expected_from_customer: bool,
    pub default: Option<Value>,
}

impl From<&FieldSpec> for ExpectedFieldDto {
    fn from(f: &FieldSpec) -> Self {
        ExpectedFieldDto {
            name: f.name.clone(),
            display_name: f.display_name.clone(),
            description: f.description.clone(),
            kind: f.kind.as_str().to_string(),
            required: f.required,
            is_secret: f.is_secret,
            expected_from_customer: f.expected_from_customer,
            default: f.default.clone().filter(Value::is_string),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationDto {
    pub id: String,
    pub name: String,
    pub auth_scheme: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub enabled: bool,
    pub deleted: bool,
    pub app_id: String,
    pub app_name: String,
    pub expected_input_fields: Vec<ExpectedFieldDto>,
    pub auth_config: Map<String, Value>,
    pub scopes: Vec<String>,
    pub base_url: String,
    /// The redirect URI to register with the provider (OAuth schemes only).
    pub callback_url: Option<String>,
}

impl From<&IntegrationView> for IntegrationDto {
    fn from(v: &IntegrationView) -> Self {
        let i = &v.integration;
        let mut auth_config = i.config.clone();
        for key in &i.secret_keys {
            auth_config.insert(key.clone(), Value::String(REDACTED.into()));
        }
        IntegrationDto {
            id: i.id.to_string(),
            name: i.name.clone(),
            auth_scheme: i.auth_scheme.as_str(),
            created_at: i.created_at.clone(),
            updated_at: i.updated_at.clone(),
            enabled: i.enabled,
            deleted: i.deleted,
            app_id: v.app_id.clone(),
            app_name: v.app_name.clone(),
            expected_input_fields: v.expected.iter().map(ExpectedFieldDto::from).collect(),
            auth_config,
            scopes: i.scopes.clone(),
            base_url: i.base_url.clone(),
            callback_url: v.callback_url.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAccountDto {
    pub id: String,
    pub status: &'static str,
    pub status_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub app_unique_id: String,
    pub app_name: String,
    pub integration_id: String,
    pub auth_scheme: &'static str,
    pub connection_params: Map<String, Value>,
    pub client_unique_user_id: String,
    pub entity_id: String,
    pub labels: Vec<String>,
    pub enabled: bool,
}

impl From<&ConnectionView> for ConnectedAccountDto {
    fn from(v: &ConnectionView) -> Self {
        let c = &v.connection;
        ConnectedAccountDto {
            id: c.id.to_string(),
            status: c.status.as_str(),
            status_reason: c.status_reason.clone(),
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            app_unique_id: c.app_key.clone(),
            app_name: c.app_key.clone(),
            integration_id: c.integration_id.to_string(),
            auth_scheme: v.auth_scheme.as_str(),
            connection_params: v.params.clone(),
            client_unique_user_id: c.entity_id.as_str().to_string(),
            entity_id: c.entity_id.as_str().to_string(),
            labels: c.labels.clone(),
            enabled: c.status != crate::domain::ConnectionStatus::Inactive,
        }
    }
}
