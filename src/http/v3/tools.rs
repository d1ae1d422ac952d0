//! `/api/v3.1/tools`: keyport's named actions under v3's name, their execution and the
//! credential-injecting proxy, over the same service calls as `/api/v2/actions`.
//! Credentials given with a call (`custom_auth_params`, `custom_connection_data`) are
//! refused, never ignored: keyport acts only with what is sealed in its vault.

use actix_web::web::{self, Json};

use super::dto::{
    ExecuteToolBody, ParameterType, ProxyToolBody, ProxyToolResultDto, ToolDto, ToolGetQuery,
    ToolListQuery, ToolPath, ToolResultDto, V3Page,
};
use super::{Paging, V3Query, V3Reply, refuse_json, refuse_text};
use crate::http::actions::connection_id;
use crate::http::call::Call;
use crate::http::dto::{V3ReadErrors, V3Refusals, V3SendErrors, csv};
use crate::net::Upstream;
use crate::service::{
    ACTION_VERSION, ActionView, Caller, Error, ExecuteAction, ParamIn, ProxyRequest, Service,
    Target,
};

const VAULT_ONLY: &str = "keyport acts only with credentials sealed in its vault; create a \
                          connected account and pass its id";

/// `latest` or keyport's one version; any other is refused, naming the version there is.
fn check_version(field: &str, version: Option<&str>, tool: &str) -> Result<(), Error> {
    match version.map(str::trim) {
        None | Some("") | Some("latest") => Ok(()),
        Some(v) if v == ACTION_VERSION => Ok(()),
        Some(v) => Err(Error::invalid(format!(
            "{field}: {tool} has one version, {ACTION_VERSION}, not {v}"
        ))),
    }
}

/// A tool as the v3 API shows it, with its toolkit's name.
fn tool_dto(svc: &Service, caller: &Caller, view: &ActionView<'_>) -> ToolDto {
    let name = svc
        .get_app(caller, &view.action.app)
        .map(|app| app.name.clone())
        .unwrap_or_else(|_| view.action.app.clone());
    ToolDto::new(view, &name)
}

/// Whether `view` matches the list's search, slugs and tags.
fn listed(view: &ActionView<'_>, search: &str, slugs: &[String], tags: &[String]) -> bool {
    let def = &view.action.def;
    let text = format!("{} {} {}", def.name, def.display_name, def.description).to_lowercase();
    (search.is_empty() || text.contains(search))
        && (slugs.is_empty() || slugs.iter().any(|s| s.eq_ignore_ascii_case(&def.name)))
        && (tags.is_empty() || def.tags.iter().any(|t| tags.contains(t)))
}

/// Tools, filtered, one page.
#[utoipa::path(get, path = "/api/v3.1/tools", tag = "v3 tools",
    operation_id = "v3ListTools", params(ToolListQuery),
    responses((status = 200, description = "One page of tools", body = V3Page<ToolDto>), V3Refusals))]
pub async fn list_tools(call: Call, query: V3Query<ToolListQuery>) -> V3Reply<V3Page<ToolDto>> {
    let q = query.0;
    let paging = Paging::new(q.limit, q.cursor.as_deref())?;
    check_version(
        "toolkit_versions",
        q.toolkit_versions.as_deref(),
        "every tool",
    )?;
    let search = q
        .search
        .or(q.query)
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let (slugs, tags) = (csv(q.tool_slugs), csv(q.tags));
    let (svc, caller) = (call.service(), call.caller());
    let views = svc.list_action_views(caller, &csv(q.toolkit_slug), None)?;
    let items: Vec<ToolDto> = views
        .iter()
        .filter(|v| listed(v, &search, &slugs, &tags))
        .map(|v| tool_dto(svc, caller, v))
        .collect();
    Ok(Json(paging.window(items)))
}

/// One tool.
#[utoipa::path(get, path = "/api/v3.1/tools/{tool_slug}", tag = "v3 tools",
    operation_id = "v3GetTool", params(ToolPath, ToolGetQuery),
    responses((status = 200, description = "The tool", body = ToolDto), V3ReadErrors))]
pub async fn get_tool(
    call: Call,
    path: web::Path<ToolPath>,
    query: V3Query<ToolGetQuery>,
) -> V3Reply<ToolDto> {
    let q = query.0;
    let (svc, caller) = (call.service(), call.caller());
    let view = svc.get_action_view(caller, &path.tool_slug)?;
    check_version("version", q.version.as_deref(), &path.tool_slug)?;
    check_version(
        "toolkit_versions",
        q.toolkit_versions.as_deref(),
        &path.tool_slug,
    )?;
    Ok(Json(tool_dto(svc, caller, &view)))
}

/// Runs a tool for a user or through a connected account.
#[utoipa::path(post, path = "/api/v3.1/tools/execute/{tool_slug}", tag = "v3 tools",
    operation_id = "v3ExecuteTool", params(ToolPath), request_body = ExecuteToolBody,
    responses((status = 200, description = "What the tool did", body = ToolResultDto), V3SendErrors))]
pub async fn execute_tool(
    call: Call,
    upstream: web::Data<Upstream>,
    path: web::Path<ToolPath>,
    body: Json<ExecuteToolBody>,
) -> V3Reply<ToolResultDto> {
    let b = body.into_inner();
    let name = path.into_inner().tool_slug;
    refuse_json(
        "custom_auth_params",
        b.custom_auth_params.as_ref(),
        VAULT_ONLY,
    )?;
    refuse_json(
        "custom_connection_data",
        b.custom_connection_data.as_ref(),
        VAULT_ONLY,
    )?;
    refuse_text(
        "text",
        b.text.as_deref(),
        "keyport does not turn text into arguments; send arguments",
    )?;
    check_version("version", b.version.as_deref(), &name)?;
    let req = ExecuteAction {
        name,
        connected_account_id: connection_id(b.connected_account_id)?,
        entity_id: b.user_id.or(b.entity_id),
        app_name: None,
        input: b
            .arguments
            .map(serde_json::Value::Object)
            .unwrap_or_default(),
    };
    let (svc, caller) = call.into_parts();
    let outcome = svc.execute_action(&upstream, caller, req).await?;
    Ok(Json(ToolResultDto::from(outcome)))
}

/// Sends a request to the toolkit's API with the connected account's credential.
#[utoipa::path(post, path = "/api/v3.1/tools/execute/proxy", tag = "v3 tools",
    operation_id = "v3Proxy", request_body = ProxyToolBody,
    responses((status = 200, description = "The provider's answer, whatever its status", body = ProxyToolResultDto), V3SendErrors))]
pub async fn proxy(
    call: Call,
    upstream: web::Data<Upstream>,
    body: Json<ProxyToolBody>,
) -> V3Reply<ProxyToolResultDto> {
    let b = body.into_inner();
    refuse_json(
        "custom_connection_data",
        b.custom_connection_data.as_ref(),
        VAULT_ONLY,
    )?;
    refuse_json(
        "binary_body",
        b.binary_body.as_ref(),
        "keyport proxies JSON and text bodies; send body",
    )?;
    let id = connection_id(b.connected_account_id)?
        .ok_or_else(|| Error::invalid("connected_account_id: required"))?;
    let method = http::Method::from_bytes(b.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::invalid("method: not an HTTP method"))?;
    let parameters = b
        .parameters
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let location = match p.kind {
                ParameterType::Header => ParamIn::Header,
                ParameterType::Query => ParamIn::Query,
            };
            (location, p.name, p.value)
        })
        .collect();
    let req = ProxyRequest {
        target: Target::Connection(id),
        method,
        endpoint: b.endpoint,
        body: b.body,
        parameters,
    };
    let (svc, caller) = call.into_parts();
    let response = svc.proxy(&upstream, caller, req).await?;
    Ok(Json(ProxyToolResultDto::from(&response)))
}
