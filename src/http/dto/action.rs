//! Composio's action resource (`ActionModel`), the execute body and result, and the
//! credential-injecting proxy (`execute_request`) body and answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::count_param;
use crate::service::{ActionOutcome, ActionView, ProxyResponse};

/// Composio's `ActionModel`: the fields the SDK requires, plus `display_name` and `enabled`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Action)]
pub struct ActionDto {
    /// The upper-case slug, e.g. `GITHUB_CREATE_AN_ISSUE`.
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// The input's JSON Schema.
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// The execute result's JSON Schema (`data`, `successful`, `error`).
    #[schema(value_type = Object)]
    pub response: Value,
    #[serde(rename = "appName")]
    pub app_name: String,
    #[serde(rename = "appKey")]
    pub app_key: String,
    #[serde(rename = "appId")]
    pub app_id: String,
    pub version: String,
    pub available_versions: Vec<String>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub no_auth: bool,
}

impl From<&ActionView<'_>> for ActionDto {
    fn from(v: &ActionView<'_>) -> Self {
        let def = &v.action.def;
        ActionDto {
            name: def.name.clone(),
            display_name: def.display_name.clone(),
            description: def.description.clone(),
            parameters: def.parameters.clone(),
            response: v.response.clone(),
            app_name: v.action.app.clone(),
            app_key: v.action.app.clone(),
            app_id: v.app_id.clone(),
            version: v.version.to_string(),
            available_versions: vec![v.version.to_string()],
            tags: def.tags.clone(),
            enabled: true,
            no_auth: false,
        }
    }
}

/// The action list: `{"items": […]}`, as the SDK reads it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ActionList)]
pub struct ActionListDto {
    pub items: Vec<ActionDto>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ActionListQuery {
    /// App keys, comma-separated (any case).
    pub apps: Option<String>,
    pub app_names: Option<String>,
    /// At most this many actions.
    #[param(schema_with = count_param)]
    pub limit: Option<usize>,
}

/// The SDK's execute body. `version`, `sessionInfo` and `allowTracing` are accepted and
/// ignored (keyport has one version of each action); unknown fields are ignored too. An
/// `authConfig` is refused: keyport acts only with the credentials in its vault.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ExecuteAction)]
pub struct ExecuteBody {
    /// The connection to act through (default: the entity's default ACTIVE one for the app, else its oldest).
    pub connected_account_id: Option<String>,
    pub entity_id: Option<String>,
    pub app_name: Option<String>,
    /// The action's input, an object matching its `parameters`.
    pub input: Option<Value>,
    /// Refused unless `input` is given: keyport does not turn text into input.
    pub text: Option<Value>,
    /// Refused unless empty: credentials for this call alone.
    #[schema(value_type = Option<Object>)]
    pub auth_config: Option<Value>,
}

/// What executing an action answers.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ActionResult)]
pub struct ActionResultDto {
    /// What the provider answered, shaped by the action.
    pub data: Value,
    /// What went wrong, when it did.
    #[schema(required)]
    pub error: Option<String>,
    /// The SDK's historical spelling of `successful`.
    pub successfull: bool,
    pub successful: bool,
}

impl From<ActionOutcome> for ActionResultDto {
    fn from(o: ActionOutcome) -> Self {
        ActionResultDto {
            data: o.data,
            error: o.error,
            successfull: o.successful,
            successful: o.successful,
        }
    }
}

/// One request parameter of a proxied call.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ProxyParameter)]
pub struct ProxyParameterDto {
    /// `header` or `query` (any case).
    #[serde(rename = "in")]
    pub location: String,
    pub name: String,
    /// A string, number or boolean.
    pub value: Value,
}

/// The Python SDK's `execute_request` body; `entityId` + `appName` may replace
/// `connectedAccountId`.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProxyRequest)]
pub struct ProxyBody {
    pub connected_account_id: Option<String>,
    pub entity_id: Option<String>,
    pub app_name: Option<String>,
    /// A path relative to the integration's base URL, with an optional query string.
    pub endpoint: String,
    pub method: String,
    /// Sent as JSON, or as text when it is a string.
    pub body: Option<Value>,
    pub parameters: Option<Vec<ProxyParameterDto>>,
}

/// The provider's answer to a proxied call.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ProxyResult)]
pub struct ProxyResultDto {
    /// The provider's error, when its status is not a success.
    #[schema(required)]
    pub error: Option<String>,
    /// The body: JSON when it is JSON, else text; null when empty.
    pub data: Value,
    /// The provider's HTTP status.
    pub status: u16,
    /// Lower-case names; credentials masked.
    pub headers: std::collections::BTreeMap<String, String>,
    pub successful: bool,
}

impl From<&ProxyResponse> for ProxyResultDto {
    fn from(response: &ProxyResponse) -> Self {
        let data = response.data();
        ProxyResultDto {
            error: response.error_for(&data),
            data,
            status: response.status,
            headers: response.headers.iter().cloned().collect(),
            successful: response.successful(),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_execute_result_carries_both_spellings_of_successful() {
        let outcome = ActionOutcome {
            data: json!({"id": 7}),
            successful: false,
            error: Some("refused".into()),
        };
        assert_eq!(
            serde_json::to_value(ActionResultDto::from(outcome)).unwrap(),
            json!({"data": {"id": 7}, "error": "refused", "successfull": false, "successful": false})
        );
    }

    #[test]
    fn a_proxy_result_is_the_providers_answer() {
        let response = ProxyResponse {
            status: 404,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"message":"Not Found"}"#.to_vec(),
        };
        let value = serde_json::to_value(ProxyResultDto::from(&response)).unwrap();
        assert_eq!(value["status"], 404);
        assert_eq!(value["successful"], false);
        assert_eq!(value["data"], json!({"message": "Not Found"}));
        assert_eq!(
            value["headers"],
            json!({"content-type": "application/json"})
        );
        assert!(value["error"].is_string(), "{value}");
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data", "error", "headers", "status", "successful"]);
    }
}
