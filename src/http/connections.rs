//! `/api/v1/connectedAccounts`: Composio's connected-account resource, plus keyport's
//! explicit credential reveal beside it.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::compat;
use super::dto::{ConnectedAccountDto, csv, items};
use super::{ApiResult, blocking};
use crate::ids::{ConnectionId, IntegrationId};
use crate::service::{Caller, CreateConnection, ListConnections, Service};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    integration_id: String,
    user_uuid: Option<String>,
    entity_id: Option<String>,
    data: Option<Map<String, Value>>,
    labels: Option<Vec<String>>,
    redirect_uri: Option<String>,
    /// keyport: check the credential with the provider before it becomes ACTIVE.
    validate: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(rename = "user_uuid", alias = "userUuid")]
    user_uuid: Option<String>,
    entity_id: Option<String>,
    app_names: Option<String>,
    app_name: Option<String>,
    status: Option<String>,
    labels: Option<String>,
    show_active_only: Option<bool>,
    integration_id: Option<String>,
    page: Option<u64>,
    page_size: Option<u64>,
}

pub async fn create(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> ApiResult {
    let body = body.into_inner();
    let req = CreateConnection {
        integration_id: body.integration_id.parse()?,
        entity: body.user_uuid.or(body.entity_id),
        data: body.data.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
        redirect_url: body.redirect_uri.filter(|u| !u.is_empty()),
        validate: body.validate.unwrap_or(false),
    };
    let created = blocking(move || svc.create_connection(&caller, req)).await?;
    let mut out = json!({
        "connectionStatus": created.status.as_str(),
        "connectedAccountId": created.id.to_string(),
    });
    if let Some(url) = created.redirect_url {
        out["redirectUrl"] = Value::String(url);
    }
    Ok(HttpResponse::Ok().json(out))
}

pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let integration_id: Option<IntegrationId> = q
        .integration_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()?;
    let page_size = q.page_size.unwrap_or(0);
    let req = ListConnections {
        entities: csv(q.user_uuid.or(q.entity_id)),
        apps: csv(q.app_names.or(q.app_name)),
        statuses: csv(q.status),
        labels: csv(q.labels),
        integration_id,
        active_only: q.show_active_only.unwrap_or(false),
        page: q.page.unwrap_or(1).max(1),
        page_size,
    };
    let page = req.page;
    let list: Vec<ConnectedAccountDto> = blocking(move || {
        let views = svc.list_connections(&caller, req)?;
        Ok(views
            .iter()
            .map(|v| compat::account(&svc, &caller, v))
            .collect())
    })
    .await?;
    let mut body = items(list);
    body["page"] = json!(page);
    body["pageSize"] = json!(page_size);
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let dto = blocking(move || {
        let view = svc.get_connection(&caller, id)?;
        Ok(compat::account(&svc, &caller, &view))
    })
    .await?;
    Ok(HttpResponse::Ok().json(dto))
}

pub async fn enable(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    set_enabled(svc, caller, path, true).await
}

pub async fn disable(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    set_enabled(svc, caller, path, false).await
}

async fn set_enabled(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
    enabled: bool,
) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let dto = blocking(move || {
        let view = svc.set_connection_enabled(&caller, id, enabled)?;
        Ok(compat::account(&svc, &caller, &view))
    })
    .await?;
    Ok(HttpResponse::Ok().json(dto))
}

pub async fn delete(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    blocking(move || svc.delete_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "success"})))
}

/// keyport's explicit reveal: the live credential, for keys with the `reveal` permission.
pub async fn credentials(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let (view, params) = blocking(move || svc.reveal_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "connectedAccountId": view.connection.id.to_string(),
        "entityId": view.connection.entity_id.as_str(),
        "appName": view.connection.app_key,
        "authScheme": view.auth_scheme.as_str(),
        "credentials": params,
    })))
}

#[derive(Deserialize)]
pub struct WaitQuery {
    /// Seconds to wait at most (default 30, at most 120).
    timeout: Option<u64>,
}

/// Long-polls a connection until it leaves INITIATED or the timeout passes; answers with
/// the connection either way, so clients need not spin.
pub async fn wait(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<WaitQuery>,
) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let limit = std::time::Duration::from_secs(query.timeout.unwrap_or(30).min(120));
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = svc.status_changes();
    loop {
        changes.borrow_and_update();
        let (svc2, caller2) = (svc.clone(), caller.clone());
        let (initiated, dto) = blocking(move || {
            let view = svc2.get_connection(&caller2, id)?;
            let initiated = view.connection.status == crate::domain::ConnectionStatus::Initiated;
            Ok((initiated, compat::account(&svc2, &caller2, &view)))
        })
        .await?;
        let now = tokio::time::Instant::now();
        if !initiated || now >= deadline {
            return Ok(HttpResponse::Ok().json(dto));
        }
        // Wake on any status change, and at least every few seconds to notice expiry.
        let nap = (deadline - now).min(std::time::Duration::from_secs(5));
        let _ = tokio::time::timeout(nap, changes.changed()).await;
    }
}

/// keyport: checks a token-scheme connection's credential with the provider now.
pub async fn test(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let (svc2, caller2) = (svc.clone(), caller.clone());
    let (view, outcome) = blocking(move || svc2.test_connection(&caller2, id)).await?;
    let dto = blocking(move || Ok(compat::account(&svc, &caller, &view))).await?;
    let mut body = serde_json::to_value(dto).map_err(crate::service::Error::from)?;
    body["check"] = json!({"ok": outcome.ok, "status": outcome.status, "message": outcome.message});
    Ok(HttpResponse::Ok().json(body))
}
