//! `/api/v2/actions`: Composio's action resource — the catalog of named actions
//! (`ActionModel`), their execution, and the credential-injecting proxy
//! (`execute_request`). Handlers parse the wire shape, call the service (on the blocking
//! pool; execution and the proxy through its async calls, which wait for the provider on
//! the worker's [`Upstream`] client) and write Composio's answer; every rule lives in the
//! service.

use actix_web::web::{self, Json};
use serde_json::Value;

use super::call::{Call, Reply};
use super::dto::{
    ActionDto, ActionListDto, ActionListQuery, ActionResultDto, ExecuteBody, NamePath, ProxyBody,
    ProxyResultDto, ReadErrors, Refusals, SendErrors, csv,
};
use crate::ids::ConnectionId;
use crate::net::Upstream;
use crate::service::Error;
use crate::service::{ExecuteAction, ParamIn, ProxyRequest, Target};

/// A connected account's id, if one is given (in either spelling).
pub(super) fn connection_id(raw: Option<String>) -> Result<Option<ConnectionId>, Error> {
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

/// Named actions.
#[utoipa::path(get, path = "/api/v2/actions", tag = "actions",
    operation_id = "listActions", params(ActionListQuery),
    responses((status = 200, description = "The matching actions", body = ActionListDto), Refusals))]
pub async fn list(call: Call, query: web::Query<ActionListQuery>) -> Reply<ActionListDto> {
    let q = query.into_inner();
    let apps = csv(q.apps.or(q.app_names));
    call.run(move |svc, caller| {
        let views = svc.list_action_views(caller, &apps, q.limit)?;
        let items = views.iter().map(ActionDto::from).collect();
        Ok(Json(ActionListDto { items }))
    })
    .await
}

/// One named action.
#[utoipa::path(get, path = "/api/v2/actions/{name}", tag = "actions",
    operation_id = "getAction", params(NamePath),
    responses((status = 200, description = "The action", body = ActionDto), ReadErrors))]
pub async fn get(call: Call, path: web::Path<NamePath>) -> Reply<ActionDto> {
    let name = path.into_inner().name;
    call.run(move |svc, caller| Ok(Json(ActionDto::from(&svc.get_action_view(caller, &name)?))))
        .await
}

/// Runs a named action for a connection.
#[utoipa::path(post, path = "/api/v2/actions/{name}/execute", tag = "actions",
    operation_id = "executeAction", params(NamePath), request_body = ExecuteBody,
    responses((status = 200, description = "What the action did", body = ActionResultDto), SendErrors))]
pub async fn execute(
    call: Call,
    upstream: web::Data<Upstream>,
    path: web::Path<NamePath>,
    body: Json<ExecuteBody>,
) -> Reply<ActionResultDto> {
    let body = body.into_inner();
    let input = body.input.unwrap_or(Value::Null);
    let has_input = input.as_object().is_some_and(|m| !m.is_empty());
    if !has_input && body.text.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(Error::invalid(
            "text: keyport does not turn text into input; send the input object",
        )
        .into());
    }
    if body
        .auth_config
        .as_ref()
        .is_some_and(|c| !c.is_null() && c.as_object().is_none_or(|m| !m.is_empty()))
    {
        return Err(Error::invalid(
            "authConfig: keyport acts only with credentials sealed in its vault; connect the \
             entity and name its connection instead",
        )
        .into());
    }
    let req = ExecuteAction {
        name: path.into_inner().name,
        connected_account_id: connection_id(body.connected_account_id)?,
        entity_id: body.entity_id,
        app_name: body.app_name,
        input,
    };
    let (svc, caller) = call.into_parts();
    let outcome = svc.execute_action(&upstream, caller, req).await?;
    Ok(Json(ActionResultDto::from(outcome)))
}

/// The service's proxy request for a client's body.
fn proxy_request(body: ProxyBody) -> Result<ProxyRequest, Error> {
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
    Ok(ProxyRequest {
        target,
        method,
        endpoint: body.endpoint,
        body: body.body,
        parameters,
    })
}

/// Sends a request to the app's API with the connection's credential.
#[utoipa::path(post, path = "/api/v2/actions/proxy", tag = "actions",
    operation_id = "proxy", request_body = ProxyBody,
    responses((status = 200, description = "The provider's answer, whatever its status", body = ProxyResultDto), SendErrors))]
pub async fn proxy(
    call: Call,
    upstream: web::Data<Upstream>,
    body: Json<ProxyBody>,
) -> Reply<ProxyResultDto> {
    let req = proxy_request(body.into_inner())?;
    let (svc, caller) = call.into_parts();
    let response = svc.proxy(&upstream, caller, req).await?;
    Ok(Json(ProxyResultDto::from(&response)))
}
