//! `/api/v3.1/connected_accounts`: keyport's connections under v3's names. Create, link,
//! list, get, delete and enable/disable call the same service methods as the v1 routes.

use actix_web::web::{self, Json};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::IntoParams;

use super::dto::{
    ConnectedAccountDto, ConnectedAccountListQuery, CreateConnectedAccountBody, CreateLinkBody,
    CreatedConnectedAccountDto, LinkDto, StateInput, StatusChangeBody, V3Page, V3Status, V3Success,
};
use super::{Paging, V3Query, V3Reply, refuse_json, refuse_text};
use crate::http::call::{Call, ResourcePath};
use crate::http::dto::{V3ChangeErrors, V3ReadErrors, V3SendErrors, csv, csv_parsed, parse_scheme};
use crate::ids::ConnectionId;
use crate::service::{
    AuthScheme, ConnectionFilter, CreateConnection, Error, ListConnections, Order, Service,
};

/// The id in a connected account's path (`ca_…`, or the v1 UUID).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountPath {
    pub nanoid: String,
}

impl ResourcePath<ConnectionId> for AccountPath {
    fn id(&self) -> Result<ConnectionId, Error> {
        Ok(self.nanoid.parse()?)
    }
}

const NO_ALIAS: &str = "keyport has no aliases; label accounts through the v1 API instead";
const PRIVATE_ONLY: &str = "every keyport account is private to its user";

/// A state's scheme and fields: `val` without its `status`, which keyport decides.
fn state_fields(
    state: Option<StateInput>,
) -> Result<(Option<AuthScheme>, Map<String, Value>), Error> {
    let Some(state) = state else {
        return Ok((None, Map::new()));
    };
    let scheme = parse_scheme(&state.auth_scheme)?;
    let mut fields = state.val;
    fields.remove("status");
    Ok((Some(scheme), fields))
}

/// Creates (initiates) a connected account: ACTIVE at once for a given credential,
/// INITIATED with keyport's connect link for a browser flow.
#[utoipa::path(post, path = "/api/v3.1/connected_accounts", tag = "v3 connected accounts",
    operation_id = "v3CreateConnectedAccount", request_body = CreateConnectedAccountBody,
    responses((status = 200, description = "The new account's id and state", body = CreatedConnectedAccountDto), V3SendErrors))]
pub async fn create_connected_account(
    call: Call,
    body: Json<CreateConnectedAccountBody>,
) -> V3Reply<CreatedConnectedAccountDto> {
    let body = body.into_inner();
    let c = body.connection;
    refuse_text("connection.alias", c.alias.as_deref(), NO_ALIAS)?;
    refuse_json(
        "connection.experimental",
        c.experimental.as_ref(),
        PRIVATE_ONLY,
    )?;
    let (scheme, mut data) = state_fields(c.state)?;
    data.extend(c.data.unwrap_or_default());
    let req = CreateConnection {
        integration_id: body.auth_config.id.parse()?,
        entity: c.user_id,
        data,
        labels: Vec::new(),
        redirect_url: c.callback_url.or(c.redirect_uri).filter(|u| !u.is_empty()),
        validate: body.validate_credentials.unwrap_or(false),
        scheme,
    };
    Ok(call
        .reply(move |svc, caller| svc.create_connection(caller, req))
        .await?)
}

/// A connect link for a user: a connected account INITIATED now, completed in a browser
/// through keyport's connect page before `expires_at`.
#[utoipa::path(post, path = "/api/v3.1/connected_accounts/link", tag = "v3 connected accounts",
    operation_id = "v3CreateLink", request_body = CreateLinkBody,
    responses((status = 200, description = "The link", body = LinkDto), V3SendErrors))]
pub async fn create_link(call: Call, body: Json<CreateLinkBody>) -> V3Reply<LinkDto> {
    let body = body.into_inner();
    refuse_text("alias", body.alias.as_deref(), NO_ALIAS)?;
    refuse_json("experimental", body.experimental.as_ref(), PRIVATE_ONLY)?;
    let (scheme, data) = state_fields(body.connection_data)?;
    let req = CreateConnection {
        integration_id: body.auth_config_id.parse()?,
        entity: Some(body.user_id),
        data,
        redirect_url: body.callback_url.filter(|u| !u.is_empty()),
        scheme,
        ..CreateConnection::default()
    };
    Ok(call
        .reply(move |svc, caller| svc.link_connection(caller, req))
        .await?)
}

/// Whether a two-way query choice is its second value; empty or absent is the first.
fn choice(raw: Option<String>, name: &str, [first, second]: [&str; 2]) -> Result<bool, Error> {
    match raw.as_deref().filter(|o| !o.is_empty()).unwrap_or(first) {
        v if v == first => Ok(false),
        v if v == second => Ok(true),
        other => Err(Error::invalid(format!(
            "{name}: {other:?} is neither {first} nor {second}"
        ))),
    }
}

/// The service's list request for a v3 query; `None` when it can match nothing.
fn list_request(
    q: ConnectedAccountListQuery,
    paging: Paging,
) -> Result<Option<ListConnections>, Error> {
    let wanted = csv(q.statuses);
    let mut statuses = Vec::new();
    for raw in &wanted {
        statuses.extend(V3Status::parse(raw)?.keyport());
    }
    let shared_only = q
        .account_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("SHARED"));
    if shared_only || (!wanted.is_empty() && statuses.is_empty()) {
        return Ok(None);
    }
    let by_update = choice(q.order_by, "order_by", ["created_at", "updated_at"])?;
    let newest_first = choice(q.order_direction, "order_direction", ["asc", "desc"])?;
    // Ids before user ids: a list names its malformed ids in this order.
    let filter = ConnectionFilter {
        integrations: csv_parsed(q.auth_config_ids)?,
        ids: csv_parsed(q.connected_account_ids)?,
        entities: csv_parsed(q.user_ids)?,
        apps: csv(q.toolkit_slugs),
        statuses,
        labels: Vec::new(),
        order: Order {
            by_update,
            newest_first,
        },
    };
    Ok(Some(ListConnections {
        filter,
        page: paging.page,
        page_size: paging.limit,
        ..ListConnections::default()
    }))
}

/// Connected accounts, filtered, one page.
#[utoipa::path(get, path = "/api/v3.1/connected_accounts", tag = "v3 connected accounts",
    operation_id = "v3ListConnectedAccounts", params(ConnectedAccountListQuery),
    responses((status = 200, description = "One page of accounts", body = V3Page<ConnectedAccountDto>), V3ReadErrors))]
pub async fn list_connected_accounts(
    call: Call,
    query: V3Query<ConnectedAccountListQuery>,
) -> V3Reply<V3Page<ConnectedAccountDto>> {
    let q = query.0;
    let paging = Paging::new(q.limit, q.cursor.as_deref())?;
    let Some(req) = list_request(q, paging)? else {
        return Ok(Json(paging.page(Vec::new(), 0)));
    };
    let found = call
        .run(move |svc, caller| svc.list_connections(caller, req))
        .await?;
    let items = found.views.iter().map(ConnectedAccountDto::from).collect();
    Ok(Json(paging.page(items, found.total)))
}

/// One connected account, secrets redacted.
#[utoipa::path(get, path = "/api/v3.1/connected_accounts/{nanoid}", tag = "v3 connected accounts",
    operation_id = "v3GetConnectedAccount", params(AccountPath),
    responses((status = 200, description = "The account", body = ConnectedAccountDto), V3ReadErrors))]
pub async fn get_connected_account(
    call: Call,
    path: web::Path<AccountPath>,
) -> V3Reply<ConnectedAccountDto> {
    Ok(call.reply_on(&path, Service::get_connection).await?)
}

/// Deletes a connected account (tokens revoked at the provider, best effort).
#[utoipa::path(delete, path = "/api/v3.1/connected_accounts/{nanoid}", tag = "v3 connected accounts",
    operation_id = "v3DeleteConnectedAccount", params(AccountPath),
    responses((status = 200, description = "Deleted", body = V3Success), V3ChangeErrors))]
pub async fn delete_connected_account(
    call: Call,
    path: web::Path<AccountPath>,
) -> V3Reply<V3Success> {
    call.run_on(&path, Service::delete_connection).await?;
    Ok(Json(V3Success::new("connected account deleted")))
}

/// Enables (ACTIVE) or disables (INACTIVE) a connected account.
#[utoipa::path(patch, path = "/api/v3.1/connected_accounts/{nanoid}/status", tag = "v3 connected accounts",
    operation_id = "v3SetConnectedAccountStatus", params(AccountPath), request_body = StatusChangeBody,
    responses((status = 200, description = "Its status changed", body = V3Success), V3ChangeErrors))]
pub async fn set_connected_account_status(
    call: Call,
    path: web::Path<AccountPath>,
    body: Json<StatusChangeBody>,
) -> V3Reply<V3Success> {
    let enabled = body.enabled;
    call.run_on(&path, move |svc, caller, id| {
        svc.set_connection_enabled(caller, id, enabled)
    })
    .await?;
    Ok(Json(V3Success::new(match enabled {
        true => "connected account enabled",
        false => "connected account disabled",
    })))
}
