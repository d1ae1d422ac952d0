//! Composio's integration resource (`IntegrationModel`) and the bodies that create and
//! change one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::wire_enum;
use crate::service::Error;
use crate::service::{self, FieldSpec, IntegrationView, REDACTED};

wire_enum!(
    /// An auth scheme, spelled as Composio does (`OAUTH2`, `API_KEY`…).
    AuthSchemeName(service::AuthScheme),
    "AuthScheme"
);

/// The `authScheme` a client sent, parsed; a clear error names the field otherwise.
pub fn parse_scheme(raw: &str) -> Result<service::AuthScheme, Error> {
    raw.parse::<service::AuthScheme>()
        .map_err(|e| Error::invalid(format!("authScheme: {e}")))
}

/// Composio's `ExpectedFieldInput` / `AuthSchemeField`. The SDK types `default` as a string
/// and refuses any other JSON kind, so only string defaults are shown; keyport applies its
/// non-string defaults (objects, lists, booleans) itself when the field is left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ExpectedField)]
pub struct ExpectedFieldDto {
    pub name: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub description: String,
    /// `string`, `boolean`, `integer`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub is_secret: bool,
    /// `true` for what a connection supplies, `false` for what the integration configures.
    pub expected_from_customer: bool,
    pub default: Option<String>,
    /// The app's who-am-I URL (a template of its `{variables}`), where a credential is
    /// checked; `null` when the app has none.
    pub get_current_user_endpoint: Option<String>,
}

impl ExpectedFieldDto {
    /// The fields of one scheme, each naming the app's who-am-I URL.
    pub fn list<'a>(
        fields: impl IntoIterator<Item = &'a FieldSpec>,
        current_user_endpoint: Option<&str>,
    ) -> Vec<ExpectedFieldDto> {
        fields
            .into_iter()
            .map(|f| ExpectedFieldDto {
                get_current_user_endpoint: current_user_endpoint.map(str::to_string),
                ..ExpectedFieldDto::from(f)
            })
            .collect()
    }
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
            default: f
                .default
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_string),
            get_current_user_endpoint: None,
        }
    }
}

/// An integration's configuration as readers see it: every sealed value `********`.
pub fn redacted_config(i: &service::Integration) -> Map<String, Value> {
    let mut config = i.config.clone();
    for key in &i.secret_keys {
        config.insert(key.clone(), Value::String(REDACTED.into()));
    }
    config
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Integration)]
pub struct IntegrationDto {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub auth_scheme: AuthSchemeName,
    pub created_at: String,
    pub updated_at: String,
    pub enabled: bool,
    pub deleted: bool,
    pub app_id: String,
    /// The app's catalog key, lower-case.
    pub app_name: String,
    /// What a connection to this integration supplies.
    pub expected_input_fields: Vec<ExpectedFieldDto>,
    /// Configuration; secret values read as `********`.
    pub auth_config: Map<String, Value>,
    pub scopes: Vec<String>,
    pub base_url: String,
    /// The redirect URI to register with the provider (OAuth schemes only).
    pub callback_url: Option<String>,
}

impl From<&IntegrationView> for IntegrationDto {
    fn from(v: &IntegrationView) -> Self {
        let i = &v.integration;
        let auth_config = redacted_config(i);
        IntegrationDto {
            id: i.id.to_string(),
            name: i.name.clone(),
            auth_scheme: AuthSchemeName(i.auth_scheme),
            created_at: i.created_at.clone(),
            updated_at: i.updated_at.clone(),
            enabled: i.enabled,
            deleted: i.deleted,
            app_id: v.app_id.clone(),
            app_name: v.app_name.clone(),
            expected_input_fields: ExpectedFieldDto::list(
                &v.expected,
                v.current_user_endpoint.as_deref(),
            ),
            auth_config,
            scopes: i.scopes.clone(),
            base_url: i.base_url.clone(),
            callback_url: v.callback_url.clone(),
        }
    }
}

// No `Debug` on the two bodies: `authConfig` carries client secrets.
/// `POST /api/v1/integrations`: `appName` (or `appId`) names the app; without
/// `authScheme` the app's default scheme is used.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateIntegration)]
pub struct CreateIntegrationBody {
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Option<AuthSchemeName>)]
    pub auth_scheme: Option<String>,
    /// The scheme's integration fields (client_id, client_secret, scopes…); Composio's
    /// documented spellings (`scopes` as a list, `redirect_uri`, an API key as `token`) are
    /// accepted.
    pub auth_config: Option<Map<String, Value>>,
    pub use_composio_auth: Option<bool>,
    /// Accepted and ignored: every create makes a new integration.
    pub force_new_integration: Option<bool>,
}

/// `PATCH /api/v1/integrations/{id}`: given keys of `authConfig` replace, others are kept.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateIntegration)]
pub struct UpdateIntegrationBody {
    pub name: Option<String>,
    pub auth_config: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct IntegrationListQuery {
    /// Only this app's integrations (its key or catalog id).
    pub app_name: Option<String>,
    pub app_id: Option<String>,
    /// Include disabled integrations.
    pub show_disabled: Option<bool>,
}

/// What `DELETE /api/v1/integrations/{id}` answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeletedIntegration)]
pub struct DeletedIntegrationDto {
    pub status: String,
    /// How many connections were deleted with it.
    pub deleted_connections: u64,
}
