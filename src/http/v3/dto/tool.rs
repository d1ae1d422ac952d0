//! Tools (keyport's named actions): the tool (`ToolRetrieveResponse`, the list's items),
//! the execute body and answer, and the proxy body and answer. Every tool has one fixed
//! version, so `tools.execute(..., version=...)` names it without skipping the SDK's
//! version check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::service::{ActionOutcome, ActionView, ProxyResponse};

/// The toolkit a tool belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolToolkit)]
pub struct ToolToolkit {
    pub slug: String,
    pub name: String,
    pub logo: String,
}

/// The fields v3 keeps under `deprecated`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolDeprecated)]
pub struct ToolDeprecated {
    pub available_versions: Vec<String>,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub is_deprecated: bool,
    pub toolkit: LogoRef,
    pub version: String,
}

/// `{"logo": …}` (keyport's catalog has no logos).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3LogoRef)]
pub struct LogoRef {
    pub logo: String,
}

/// A tool as the v3 API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Tool)]
pub struct ToolDto {
    /// The upper-case slug, e.g. `GITHUB_CREATE_AN_ISSUE`.
    pub slug: String,
    pub name: String,
    pub description: String,
    #[schema(required)]
    pub human_description: Option<String>,
    /// The arguments' JSON Schema.
    pub input_parameters: Map<String, Value>,
    /// The result's JSON Schema.
    pub output_parameters: Map<String, Value>,
    pub version: String,
    pub available_versions: Vec<String>,
    pub deprecated: ToolDeprecated,
    pub is_deprecated: bool,
    pub no_auth: bool,
    pub scopes: Vec<String>,
    pub tags: Vec<String>,
    pub toolkit: ToolToolkit,
}

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

impl ToolDto {
    pub fn new(v: &ActionView<'_>, toolkit_name: &str) -> ToolDto {
        let def = &v.action.def;
        ToolDto {
            slug: def.name.clone(),
            name: def.display_name.clone(),
            description: def.description.clone(),
            human_description: None,
            input_parameters: object(&def.parameters),
            output_parameters: object(&v.response),
            version: v.version.to_string(),
            available_versions: vec![v.version.to_string()],
            deprecated: ToolDeprecated {
                available_versions: vec![v.version.to_string()],
                display_name: def.display_name.clone(),
                is_deprecated: false,
                toolkit: LogoRef {
                    logo: String::new(),
                },
                version: v.version.to_string(),
            },
            is_deprecated: false,
            no_auth: false,
            scopes: Vec::new(),
            tags: def.tags.clone(),
            toolkit: ToolToolkit {
                slug: v.action.app.clone(),
                name: toolkit_name.to_string(),
                logo: String::new(),
            },
        }
    }
}

/// `GET /tools`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ToolListQuery {
    /// Toolkit slugs, comma-separated.
    pub toolkit_slug: Option<String>,
    /// Tool slugs, comma-separated.
    pub tool_slugs: Option<String>,
    /// Part of the slug, name or description.
    pub search: Option<String>,
    /// The same as `search`.
    pub query: Option<String>,
    /// Tags, comma-separated: tools carrying any of them.
    pub tags: Option<String>,
    /// `latest`, or keyport's one version.
    #[param(schema_with = super::version_param)]
    pub toolkit_versions: Option<String>,
    #[param(schema_with = super::limit_param)]
    pub limit: Option<f64>,
    #[param(schema_with = crate::http::v3::cursor_param)]
    pub cursor: Option<String>,
    pub include_deprecated: Option<bool>,
    pub important: Option<String>,
}

/// `GET /tools/{tool_slug}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ToolGetQuery {
    /// `latest`, or keyport's one version.
    #[param(schema_with = super::version_param)]
    pub version: Option<String>,
    /// `latest`, or keyport's one version.
    #[param(schema_with = super::version_param)]
    pub toolkit_versions: Option<String>,
    pub include_pricing: Option<bool>,
}

/// A tool's slug in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ToolPath {
    pub tool_slug: String,
}

// No `Debug` on the two bodies: `custom_*` would carry credentials.
/// `POST /tools/execute/{tool_slug}`.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3ExecuteTool)]
pub struct ExecuteToolBody {
    /// The account to act through (default: the user's default ACTIVE one for the toolkit, else the oldest).
    pub connected_account_id: Option<String>,
    pub user_id: Option<String>,
    /// The legacy name of `user_id`.
    pub entity_id: Option<String>,
    /// `latest`, or the tool's version.
    #[schema(schema_with = super::version_param)]
    pub version: Option<String>,
    /// The tool's input, matching its `input_parameters`.
    pub arguments: Option<Map<String, Value>>,
    /// Refused unless empty: keyport does not turn text into arguments.
    #[schema(max_length = 0)]
    pub text: Option<String>,
    /// Refused: keyport acts only with credentials sealed in its vault.
    #[schema(schema_with = super::refused)]
    pub custom_auth_params: Option<Value>,
    /// Refused: keyport acts only with credentials sealed in its vault.
    #[schema(schema_with = super::refused)]
    pub custom_connection_data: Option<Value>,
    /// Accepted and without effect (keyport logs no bodies).
    pub allow_tracing: Option<bool>,
}

/// What executing a tool answers. keyport keeps no execution log, so there is no
/// `log_id` or `session_info`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolResult)]
pub struct ToolResultDto {
    /// What the provider answered, shaped by the tool. v3 types it as an object, so a list
    /// comes as `{"items": […]}`, another value as `{"value": …}` and nothing as `{}`.
    pub data: Map<String, Value>,
    #[schema(required)]
    pub error: Option<String>,
    pub successful: bool,
}

/// `data` as the object v3 promises.
fn as_object(data: Value) -> Map<String, Value> {
    match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        Value::Array(items) => Map::from_iter([("items".to_string(), Value::Array(items))]),
        other => Map::from_iter([("value".to_string(), other)]),
    }
}

impl From<ActionOutcome> for ToolResultDto {
    fn from(o: ActionOutcome) -> Self {
        ToolResultDto {
            data: as_object(o.data),
            error: o.error,
            successful: o.successful,
        }
    }
}

/// Where a proxied call's parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = V3ParameterType)]
pub enum ParameterType {
    Header,
    Query,
}

/// One header or query parameter of a proxied call.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3ProxyParameter)]
pub struct ProxyParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    pub value: String,
}

/// `POST /tools/execute/proxy`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3ProxyRequest)]
pub struct ProxyToolBody {
    /// The account to act through (required).
    #[schema(required = true, value_type = String)]
    pub connected_account_id: Option<String>,
    /// Accepted and without effect: the account names its user.
    pub user_id: Option<String>,
    /// A path relative to the toolkit's API base URL, with an optional query string.
    pub endpoint: String,
    pub method: String,
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// Refused: keyport proxies JSON and text bodies.
    #[schema(schema_with = super::refused)]
    pub binary_body: Option<Value>,
    pub parameters: Option<Vec<ProxyParameter>>,
    /// Refused: keyport acts only with credentials sealed in its vault.
    #[schema(schema_with = super::refused)]
    pub custom_connection_data: Option<Value>,
}

/// The provider's answer to a proxied call.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ProxyResult)]
pub struct ProxyToolResultDto {
    pub status: u16,
    /// The body: JSON when it is JSON, else text; null when empty.
    pub data: Value,
    /// Lower-case names; credentials masked.
    pub headers: BTreeMap<String, String>,
}

impl From<&ProxyResponse> for ProxyToolResultDto {
    fn from(response: &ProxyResponse) -> Self {
        ProxyToolResultDto {
            status: response.status,
            data: response.data(),
            headers: response.headers.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_data_is_always_an_object() {
        assert_eq!(Value::Object(as_object(json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(
            Value::Object(as_object(json!([1, 2]))),
            json!({"items": [1, 2]})
        );
        assert_eq!(
            Value::Object(as_object(json!("text"))),
            json!({"value": "text"})
        );
        assert_eq!(Value::Object(as_object(Value::Null)), json!({}));
    }
}
