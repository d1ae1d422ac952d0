//! `/api/v1/connectedAccounts`: Composio's connected-account resource, plus keyport's
//! explicit credential reveal, long-poll, request material (`/info`) and who-am-I check
//! beside it. Every view comes from the service with what the caller may see already
//! worked out; handlers only shape it.

use std::time::Duration;

use actix_web::web::{self, Json};

use super::call::{Call, Reply};
use super::dto::{
    ChangeErrors, CheckDto, ConnectedAccountDto, ConnectedAccountPage, ConnectionInfoDto,
    ConnectionListQuery, CreateConnectionBody, CreatedConnectionDto, CredentialsDto, IdPath,
    ReadErrors, ReconnectBody, SendErrors, StatusDto, TestedAccountDto, UpdateConnectionBody,
    UpstreamErrors, WaitQuery, csv, csv_parsed,
};
use crate::ids::{ConnectionId, IntegrationId};
use crate::service::{
    ConnectionFilter, ConnectionPatch, ConnectionStatus, CreateConnection, Error, ListConnections,
    Service,
};

/// Connects an entity: ACTIVE at once, or INITIATED with a connect link.
#[utoipa::path(post, path = "/api/v1/connectedAccounts", tag = "connections",
    operation_id = "createConnectedAccount", request_body = CreateConnectionBody,
    responses((status = 200, description = "The new connection's id and status", body = CreatedConnectionDto), SendErrors))]
pub async fn create(call: Call, body: Json<CreateConnectionBody>) -> Reply<CreatedConnectionDto> {
    let body = body.into_inner();
    let req = CreateConnection {
        integration_id: body.integration_id.parse()?,
        entity: body.user_uuid.or(body.entity_id),
        data: body.data.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
        redirect_url: body.redirect_uri.filter(|u| !u.is_empty()),
        validate: body.validate.unwrap_or(false),
        scheme: None,
    };
    call.reply(move |svc, caller| svc.create_connection(caller, req))
        .await
}

/// Connected accounts.
#[utoipa::path(get, path = "/api/v1/connectedAccounts", tag = "connections",
    operation_id = "listConnectedAccounts", params(ConnectionListQuery),
    responses((status = 200, description = "One page of matching accounts", body = ConnectedAccountPage), ReadErrors))]
pub async fn list(
    call: Call,
    query: web::Query<ConnectionListQuery>,
) -> Reply<ConnectedAccountPage> {
    let q = query.into_inner();
    let integrations: Vec<IntegrationId> = q
        .integration_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .transpose()?
        .into_iter()
        .collect();
    let filter = ConnectionFilter {
        entities: csv_parsed(q.user_uuid.or(q.entity_id))?,
        apps: csv(q.app_names.or(q.app_name)),
        statuses: csv(q.status)
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| Error::invalid(format!("status: {e}")))
            })
            .collect::<Result<_, _>>()?,
        labels: csv(q.labels),
        integrations,
        ..ConnectionFilter::default()
    };
    let req = ListConnections {
        filter,
        active_only: q.show_active_only.unwrap_or(false),
        page: q.page.unwrap_or(1).max(1),
        page_size: q.page_size.unwrap_or(0),
    };
    let (page, page_size) = (req.page, req.page_size);
    let found = call
        .run(move |svc, caller| svc.list_connections(caller, req))
        .await?;
    Ok(Json(ConnectedAccountPage::new(&found, page, page_size)))
}

/// One connected account, secrets redacted.
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}", tag = "connections",
    operation_id = "getConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account", body = ConnectedAccountDto), ReadErrors))]
pub async fn get(call: Call, path: web::Path<IdPath>) -> Reply<ConnectedAccountDto> {
    let view = call.run_inline_on(&path, Service::get_connection).await?;
    Ok(Json(ConnectedAccountDto::from(&view)))
}

/// ACTIVE again (from INACTIVE).
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/enable", tag = "connections",
    operation_id = "enableConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account, ACTIVE", body = ConnectedAccountDto), ChangeErrors))]
pub async fn enable(call: Call, path: web::Path<IdPath>) -> Reply<ConnectedAccountDto> {
    set_enabled(call, path, true).await
}

/// INACTIVE (from ACTIVE).
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/disable", tag = "connections",
    operation_id = "disableConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account, INACTIVE", body = ConnectedAccountDto), ChangeErrors))]
pub async fn disable(call: Call, path: web::Path<IdPath>) -> Reply<ConnectedAccountDto> {
    set_enabled(call, path, false).await
}

async fn set_enabled(
    call: Call,
    path: web::Path<IdPath>,
    enabled: bool,
) -> Reply<ConnectedAccountDto> {
    call.reply_on(&path, move |svc, caller, id| {
        svc.set_connection_enabled(caller, id, enabled)
    })
    .await
}

/// Edits a connected account's labels, and whether it is its entity's default for its app.
#[utoipa::path(patch, path = "/api/v1/connectedAccounts/{id}", tag = "connections",
    operation_id = "updateConnectedAccount", params(IdPath), request_body = UpdateConnectionBody,
    responses((status = 200, description = "The account as it is now", body = ConnectedAccountDto), ChangeErrors))]
pub async fn update(
    call: Call,
    path: web::Path<IdPath>,
    body: Json<serde_json::Map<String, serde_json::Value>>,
) -> Reply<ConnectedAccountDto> {
    // Read from an object only: serde would also take a struct as a JSON array of its
    // fields in order, which is no way to say what to change.
    let body: UpdateConnectionBody = serde_json::from_value(body.into_inner().into())
        .map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))?;
    let patch = ConnectionPatch {
        labels: body.labels,
        default: body.default,
    };
    call.reply_on(&path, move |svc, caller, id| {
        svc.update_connection(caller, id, patch)
    })
    .await
}

/// Re-authorizes an OAuth connection in place.
///
/// Starts a new browser flow on the same connected account: the answer carries the link
/// (status INITIATED for the flow), while the account itself stays as it is until the flow
/// succeeds. Success replaces its credentials and revokes the old ones at the provider;
/// failure changes nothing. The body is optional.
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/reconnect", tag = "connections",
    operation_id = "reconnectConnectedAccount", params(IdPath),
    request_body(content = Option<ReconnectBody>, content_type = "application/json"),
    responses((status = 200, description = "The account's id and the link that re-authorizes it", body = CreatedConnectionDto), SendErrors))]
pub async fn reconnect(
    call: Call,
    path: web::Path<IdPath>,
    body: web::Bytes,
) -> Reply<CreatedConnectionDto> {
    // No body, or `null`, is no options.
    let body: ReconnectBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReconnectBody::default()
    } else {
        serde_json::from_slice::<Option<ReconnectBody>>(&body)
            .map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))?
            .unwrap_or_default()
    };
    let redirect = body.redirect_uri.filter(|u| !u.is_empty());
    call.reply_on(&path, move |svc, caller, id| {
        svc.reconnect_connection(caller, id, redirect.as_deref())
    })
    .await
}

/// Deletes a connected account (tokens revoked at the provider, best effort).
#[utoipa::path(delete, path = "/api/v1/connectedAccounts/{id}", tag = "connections",
    operation_id = "deleteConnectedAccount", params(IdPath),
    responses((status = 200, description = "Deleted", body = StatusDto), ChangeErrors))]
pub async fn delete(call: Call, path: web::Path<IdPath>) -> Reply<StatusDto> {
    call.run_on(&path, Service::delete_connection).await?;
    Ok(Json(StatusDto::success()))
}

/// The live credential (keys with the reveal permission).
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}/credentials", tag = "connections",
    operation_id = "revealCredentials", params(IdPath),
    responses((status = 200, description = "The credential, unredacted", body = CredentialsDto), UpstreamErrors))]
pub async fn credentials(call: Call, path: web::Path<IdPath>) -> Reply<CredentialsDto> {
    let revealed = call
        .run_inline_on(&path, Service::reveal_connection)
        .await?;
    Ok(Json(CredentialsDto::from(revealed)))
}

/// Long-polls until the account leaves INITIATED.
///
/// Answers with the account either way once it changes or the timeout passes, so clients
/// need not spin.
#[utoipa::path(get, path = "/api/v1/connectedAccounts/{id}/wait", tag = "connections",
    operation_id = "waitConnectedAccount", params(IdPath, WaitQuery),
    responses((status = 200, description = "The account", body = ConnectedAccountDto), ReadErrors))]
pub async fn wait(
    call: Call,
    path: web::Path<IdPath>,
    query: web::Query<WaitQuery>,
) -> Reply<ConnectedAccountDto> {
    let id: ConnectionId = path.id.parse()?;
    let limit = Duration::from_secs(query.timeout.unwrap_or(30).min(120));
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = call.service().status_changes();
    loop {
        changes.borrow_and_update();
        let view = call
            .clone()
            .run(move |svc, caller| svc.get_connection(caller, id))
            .await?;
        let now = tokio::time::Instant::now();
        if view.connection.status != ConnectionStatus::Initiated || now >= deadline {
            return Ok(Json(ConnectedAccountDto::from(&view)));
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
pub async fn info(call: Call, path: web::Path<IdPath>) -> Reply<ConnectionInfoDto> {
    let view = call.run_on(&path, Service::get_connection).await?;
    Ok(Json(ConnectionInfoDto::from(&view.auth)))
}

/// Checks the credential with the provider's who-am-I endpoint now.
#[utoipa::path(post, path = "/api/v1/connectedAccounts/{id}/test", tag = "connections",
    operation_id = "testConnectedAccount", params(IdPath),
    responses((status = 200, description = "The account after the check, and the check", body = TestedAccountDto), UpstreamErrors))]
pub async fn test(call: Call, path: web::Path<IdPath>) -> Reply<TestedAccountDto> {
    let (view, outcome) = call.run_on(&path, Service::test_connection).await?;
    Ok(Json(TestedAccountDto {
        account: ConnectedAccountDto::from(&view),
        check: CheckDto::from(&outcome),
    }))
}
