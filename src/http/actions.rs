//! `/api/v2/actions`: Composio's action resource — the catalog of named actions
//! (`ActionModel`), their execution, and the credential-injecting proxy
//! (`execute_request`). Handlers parse the wire shape, call the service on the blocking
//! pool and write Composio's answer; every rule lives in the service.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::dto::csv;
use super::{ApiResult, blocking};
use crate::actions::{Action, VERSION};
use crate::ids::ConnectionId;
use crate::service::Error;
use crate::service::{Caller, ExecuteAction, ParamIn, ProxyRequest, Service, Target};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    apps: Option<String>,
    app_names: Option<String>,
    limit: Option<usize>,
}

/// The Python SDK's `execute_request` body; `entityId` + `appName` may replace
/// `connectedAccountId`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyBody {
    connected_account_id: Option<String>,
    entity_id: Option<String>,
    app_name: Option<String>,
    endpoint: String,
    method: String,
    body: Option<Value>,
    parameters: Option<Vec<ParameterDto>>,
}

#[derive(Deserialize)]
pub struct ParameterDto {
    #[serde(rename = "in")]
    location: String,
    name: String,
    value: Value,
}

/// The SDK's execute body. `text`, `version`, `authConfig`, `sessionInfo` and
/// `allowTracing` are accepted and ignored (keyport has one version of each action and
/// its own credentials); unknown fields are ignored too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteBody {
    connected_account_id: Option<String>,
    entity_id: Option<String>,
    app_name: Option<String>,
    input: Option<Value>,
    text: Option<Value>,
}

fn connection_id(raw: Option<String>) -> Result<Option<ConnectionId>, Error> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|s| s.parse())
        .transpose()
        .map_err(Error::from)
}

fn scalar_text(field: &str, value: Value) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Error::invalid(format!(
            "parameters: the value of {field} must be a string, number or boolean"
        ))),
    }
}

/// Composio's `ActionModel`: the fields the SDK requires, plus `display_name` and `enabled`.
/// `response` wraps the action's data schema in the execute result's shape.
fn action_model(svc: &Service, action: &Action) -> Value {
    let def = &action.def;
    let app_id = svc
        .catalog()
        .get(&action.app)
        .map(|app| app.app_id().to_string())
        .unwrap_or_default();
    let title = def.response["title"].as_str().unwrap_or("Response");
    let response = json!({
        "title": title,
        "type": "object",
        "properties": {
            "data": def.response,
            "successful": {
                "type": "boolean",
                "title": "Successful",
                "description": "Whether the provider carried out the action"
            },
            "error": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": null,
                "title": "Error",
                "description": "What went wrong, when it did"
            }
        },
        "required": ["data", "successful"]
    });
    json!({
        "name": def.name,
        "display_name": def.display_name,
        "description": def.description,
        "parameters": def.parameters,
        "response": response,
        "appName": action.app,
        "appKey": action.app,
        "appId": app_id,
        "version": VERSION,
        "available_versions": [VERSION],
        "tags": def.tags,
        "enabled": true,
        "no_auth": false,
    })
}

pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let apps = csv(q.apps.or(q.app_names));
    let items = blocking(move || {
        let list = svc.list_actions(&caller, &apps, q.limit)?;
        Ok(list
            .iter()
            .map(|a| action_model(&svc, a))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let name = path.into_inner();
    let model = blocking(move || {
        let action = svc.get_action(&caller, &name)?;
        Ok(action_model(&svc, action))
    })
    .await?;
    Ok(HttpResponse::Ok().json(model))
}

pub async fn execute(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ExecuteBody>,
) -> ApiResult {
    let body = body.into_inner();
    let input = body.input.unwrap_or(Value::Null);
    let has_input = input.as_object().is_some_and(|m| !m.is_empty());
    if !has_input && body.text.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(Error::invalid(
            "text: keyport does not turn text into input; send the input object",
        )
        .into());
    }
    let req = ExecuteAction {
        name: path.into_inner(),
        connected_account_id: connection_id(body.connected_account_id)?,
        entity_id: body.entity_id,
        app_name: body.app_name,
        input,
    };
    let outcome = blocking(move || svc.execute_action(&caller, req)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "data": outcome.data,
        "error": outcome.error,
        "successfull": outcome.successful,
        "successful": outcome.successful,
    })))
}

pub async fn proxy(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<ProxyBody>,
) -> ApiResult {
    let body = body.into_inner();
    let target = match connection_id(body.connected_account_id)? {
        Some(id) => Target::Connection(id),
        None => Target::Entity {
            entity: body.entity_id,
            app: body
                .app_name
                .filter(|a| !a.trim().is_empty())
                .ok_or_else(|| {
                    Error::invalid("connectedAccountId: give it, or entityId and appName")
                })?,
        },
    };
    let method = http::Method::from_bytes(body.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::invalid("method: not an HTTP method"))?;
    let mut parameters = Vec::new();
    for p in body.parameters.unwrap_or_default() {
        let location: ParamIn = p.location.parse()?;
        let value = scalar_text(&p.name, p.value)?;
        parameters.push((location, p.name, value));
    }
    let req = ProxyRequest {
        target,
        method,
        endpoint: body.endpoint,
        body: body.body,
        parameters,
    };
    let response = blocking(move || svc.proxy(&caller, req)).await?;
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    let data = response.data();
    Ok(HttpResponse::Ok().json(json!({
        "error": response.error_for(&data),
        "data": data,
        "status": response.status,
        "headers": headers,
        "successful": response.successful(),
    })))
}
