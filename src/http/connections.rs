//! `/api/v1/connectedAccounts`: Composio's connected-account resource, plus keyport's
//! explicit credential reveal, long-poll, request material (`/info`) and who-am-I check
//! beside it. Every view comes from the service with what the caller may see already
//! worked out; handlers only shape it.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use super::dto::{
    ChangeErrors, CheckDto, ConnectedAccountDto, ConnectedAccountPage, ConnectionInfoDto,
    ConnectionListQuery, CreateConnectionBody, CreatedConnectionDto, CredentialsDto, IdPath,
    ReadErrors, SendErrors, StatusDto, StatusName, TestedAccountDto, UpstreamErrors, WaitQuery,
    csv,
};
use super::{ApiResult, blocking};
use crate::ids::{ConnectionId, IntegrationId};
use crate::service::{Caller, ConnectionStatus, CreateConnection, ListConnections, Service};

/// Connects an entity: ACTIVE at once, or INITIATED with a connect link.
#[utoipa::path(post, path = "/api/v1/connectedAccounts", tag = "connections",
    operation_id = "createConnectedAccount", request_body = CreateConnectionBody,
    responses((status = 200, description = "The new connection's id and status", body = CreatedConnectionDto), SendErrors))]
pub async fn create(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<CreateConnectionBody>,
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
    Ok(HttpResponse::Ok().json(CreatedConnectionDto {
        connection_status: StatusName(created.status),
        connected_account_id: created.id.to_string(),
        redirect_url: created.redirect_url,
    }))
}

/// Connected accounts.
#[utoipa::path(get, path = "/api/v1/connectedAccounts", tag = "connections",
    operation_id = "listConnectedAccounts", params(ConnectionListQuery),
    responses((status = 200, description = "One page of matching accounts", body = ConnectedAccountPage), ReadErrors))]
pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<ConnectionListQuery>,
) -> ApiResult {
    let q = query.into_inner();
    let integration_id: Option<IntegrationId> = q
        .integration_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()?;
    let req = ListConnections {
        entities: csv(q.user_uuid.or(q.entity_id)),
        apps: csv(q.app_names.or(q.app_name)),
        statuses: csv(q.status),
        labels: csv(q.labels),
        integration_id,
        active_only: q.show_active_only.unwrap_or(false),
        page: q.page.unwrap_or(1).max(1),
        page_size: q.page_size.unwrap_or(0),
    };
    let (page, page_size) = (req.page, req.page_size);
    let found = blocking(move || svc.list_connections(&caller, req)).await?;
    Ok(HttpResponse::Ok().json(ConnectedAccountPage::new(&found, page, page_size)))
}

/// One connected account, secrets redacted.
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}", tag = "connections",
    operation_id = "getConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account", body = ConnectedAccountDto), ReadErrors))]
pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let view = blocking(move || svc.get_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(ConnectedAccountDto::from(&view)))
}

/// ACTIVE again (from INACTIVE).
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/enable", tag = "connections",
    operation_id = "enableConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account, ACTIVE", body = ConnectedAccountDto), ChangeErrors))]
pub async fn enable(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    set_enabled(svc, caller, path, true).await
}

/// INACTIVE (from ACTIVE).
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/disable", tag = "connections",
    operation_id = "disableConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account, INACTIVE", body = ConnectedAccountDto), ChangeErrors))]
pub async fn disable(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
) -> ApiResult {
    set_enabled(svc, caller, path, false).await
}

async fn set_enabled(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
    enabled: bool,
) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let view = blocking(move || svc.set_connection_enabled(&caller, id, enabled)).await?;
    Ok(HttpResponse::Ok().json(ConnectedAccountDto::from(&view)))
}

/// Deletes a connected account (tokens revoked at the provider, best effort).
#[utoipa::path(delete, path = "/api/v1/connectedAccounts/{id}", tag = "connections",
    operation_id = "deleteConnectedAccount", params(IdPath),
    responses((status = 200, description = "Deleted", body = StatusDto), ChangeErrors))]
pub async fn delete(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    blocking(move || svc.delete_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(StatusDto::success()))
}

/// The live credential (keys with the reveal permission).
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}/credentials", tag = "connections",
    operation_id = "revealCredentials", params(IdPath),
    responses((status = 200, description = "The credential, unredacted", body = CredentialsDto), UpstreamErrors))]
pub async fn credentials(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let revealed = blocking(move || svc.reveal_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(CredentialsDto::from(revealed)))
}

/// Long-polls until the account leaves INITIATED.
///
/// Answers with the account either way once it changes or the timeout passes, so clients
/// need not spin.
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}/wait", tag = "connections",
    operation_id = "waitConnectedAccount", params(IdPath, WaitQuery),
    responses((status = 200, description = "The account", body = ConnectedAccountDto), ReadErrors))]
pub async fn wait(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
    query: web::Query<WaitQuery>,
) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let limit = Duration::from_secs(query.timeout.unwrap_or(30).min(120));
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = svc.status_changes();
    loop {
        changes.borrow_and_update();
        let (svc, caller) = (svc.clone(), caller.clone());
        let view = blocking(move || svc.get_connection(&caller, id)).await?;
        let now = tokio::time::Instant::now();
        if view.connection.status != ConnectionStatus::Initiated || now >= deadline {
            return Ok(HttpResponse::Ok().json(ConnectedAccountDto::from(&view)));
        }
        // Wake on any status change, and at least every few seconds to notice expiry.
        let nap = (deadline - now).min(Duration::from_secs(5));
        let _ = tokio::time::timeout(nap, changes.changed()).await;
    }
}

/// Base URL and injected request parameters (redacted unless the key may reveal).
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}/info", tag = "connections",
    operation_id = "getConnectedAccountInfo", params(IdPath),
    responses((status = 200, description = "What keyport puts on each request", body = ConnectionInfoDto), UpstreamErrors))]
pub async fn info(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let view = blocking(move || svc.get_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(ConnectionInfoDto::from(&view.auth)))
}

/// Checks the credential with the provider's who-am-I endpoint now.
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/test", tag = "connections",
    operation_id = "testConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account after the check, and the check", body = TestedAccountDto), UpstreamErrors))]
pub async fn test(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: ConnectionId = path.id.parse()?;
    let (view, outcome) = blocking(move || svc.test_connection(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(TestedAccountDto {
        account: ConnectedAccountDto::from(&view),
        check: CheckDto::from(&outcome),
    }))
}
