//! `/api/v3.1/auth_configs`: keyport's integrations under v3's name. Each handler maps the
//! v3 body onto the same service call the v1 integration routes make.

use std::collections::HashMap;

use actix_web::web::{self, Json};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::IntoParams;

use super::dto::{
    AuthConfigDto, AuthConfigListQuery, AuthConfigStatus, AuthConfigType, CreateAuthConfigBody,
    CreatedAuthConfigDto, Refusing, UpdateAuthConfigBody, V3Page, V3Success,
};
use super::{Paging, V3Query, V3Reply};
use crate::http::call::{Call, ResourcePath};
use crate::http::dto::{V3ChangeErrors, V3ReadErrors, V3SendErrors, csv, parse_scheme};
use crate::ids::IntegrationId;
use crate::service::{
    CONNECTION_DEFAULTS, Caller, CreateIntegration, Error, FindIntegrations, IntegrationView,
    Service, UpdateIntegration,
};

/// The id in an auth config's path (`ac_…`, or the v1 UUID).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NanoidPath {
    pub nanoid: String,
}

impl ResourcePath<IntegrationId> for NanoidPath {
    fn id(&self) -> Result<IntegrationId, Error> {
        Ok(self.nanoid.parse()?)
    }
}

/// An auth config's path and the status to set.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StatusPath {
    pub nanoid: String,
    pub status: AuthConfigStatus,
}

impl ResourcePath<IntegrationId> for StatusPath {
    fn id(&self) -> Result<IntegrationId, Error> {
        Ok(self.nanoid.parse()?)
    }
}

/// The integration's configuration with `shared` as its connection defaults.
fn with_shared(
    mut credentials: Map<String, Value>,
    shared: Option<Map<String, Value>>,
) -> Map<String, Value> {
    if let Some(shared) = shared {
        credentials.extend(shared);
    }
    credentials.remove(CONNECTION_DEFAULTS);
    credentials
}

/// Views of `views` with their ACTIVE connection counts.
fn with_counts(
    svc: &Service,
    caller: &Caller,
    views: &[IntegrationView],
) -> crate::service::Result<Vec<AuthConfigDto>> {
    let counts: HashMap<IntegrationId, u64> =
        svc.active_connection_counts(caller)?.into_iter().collect();
    Ok(views
        .iter()
        .map(|v| AuthConfigDto::new(v, counts.get(&v.integration.id).copied().unwrap_or(0)))
        .collect())
}

/// Creates an auth config.
#[utoipa::path(post, path = "/api/v3.1/auth_configs", tag = "v3 auth configs",
    operation_id = "v3CreateAuthConfig", request_body = CreateAuthConfigBody,
    responses((status = 200, description = "The new auth config", body = CreatedAuthConfigDto), V3SendErrors))]
pub async fn create_auth_config(
    call: Call,
    body: Json<CreateAuthConfigBody>,
) -> V3Reply<CreatedAuthConfigDto> {
    let body = body.into_inner();
    let options = body.auth_config;
    let mut req = CreateIntegration {
        app: body.toolkit.slug,
        ..CreateIntegration::default()
    };
    if let Some(o) = options {
        o.refuse_unsupported()?;
        req.name = o.name;
        req.auth_scheme = o.auth_scheme.as_deref().map(parse_scheme).transpose()?;
        req.auth_config = with_shared(o.credentials.unwrap_or_default(), o.shared_credentials);
        req.managed_auth = (o.kind == AuthConfigType::UseComposioManagedAuth)
            .then_some("auth_config.type use_composio_managed_auth");
    }
    Ok(call
        .reply(move |svc, caller| svc.create_integration(caller, req))
        .await?)
}

/// Auth configs, filtered, one page.
#[utoipa::path(get, path = "/api/v3.1/auth_configs", tag = "v3 auth configs",
    operation_id = "v3ListAuthConfigs", params(AuthConfigListQuery),
    responses((status = 200, description = "One page of auth configs", body = V3Page<AuthConfigDto>), V3ReadErrors))]
pub async fn list_auth_configs(
    call: Call,
    query: V3Query<AuthConfigListQuery>,
) -> V3Reply<V3Page<AuthConfigDto>> {
    let q = query.0;
    let paging = Paging::new(q.limit, q.cursor.as_deref())?;
    let managed_only = q
        .is_composio_managed
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("true"));
    let find = FindIntegrations {
        apps: csv(q.toolkit_slug),
        search: q.search,
        show_disabled: q.show_disabled.unwrap_or(false),
    };
    let all = call
        .run(move |svc, caller| match managed_only {
            true => Ok(Vec::new()),
            false => with_counts(svc, caller, &svc.find_integrations(caller, find)?),
        })
        .await?;
    Ok(Json(paging.window(all)))
}

/// One auth config.
#[utoipa::path(get, path = "/api/v3.1/auth_configs/{nanoid}", tag = "v3 auth configs",
    operation_id = "v3GetAuthConfig", params(NanoidPath),
    responses((status = 200, description = "The auth config", body = AuthConfigDto), V3ReadErrors))]
pub async fn get_auth_config(call: Call, path: web::Path<NanoidPath>) -> V3Reply<AuthConfigDto> {
    let dto = call
        .run_on(&path, |svc, caller, id: IntegrationId| {
            // v3 has no deleted auth configs to show: a deleted one is gone.
            let view = svc.get_integration(caller, id)?;
            if view.integration.deleted {
                return Err(Error::not_found("auth config", id.v3()));
            }
            Ok(with_counts(svc, caller, &[view])?.remove(0))
        })
        .await?;
    Ok(Json(dto))
}

/// Updates name, credentials, scopes or shared credentials.
#[utoipa::path(patch, path = "/api/v3.1/auth_configs/{nanoid}", tag = "v3 auth configs",
    operation_id = "v3UpdateAuthConfig", params(NanoidPath), request_body = UpdateAuthConfigBody,
    responses((status = 200, description = "Updated", body = V3Success), V3ChangeErrors))]
pub async fn update_auth_config(
    call: Call,
    path: web::Path<NanoidPath>,
    body: Json<UpdateAuthConfigBody>,
) -> V3Reply<V3Success> {
    let b = body.into_inner();
    b.refuse_unsupported()?;
    let mut changes = b.credentials.unwrap_or_default();
    if let Some(scopes) = b.scopes {
        changes.insert("scopes".into(), scopes);
    }
    let changes = with_shared(changes, b.shared_credentials);
    let req = UpdateIntegration {
        name: b.name,
        auth_config: (!changes.is_empty()).then_some(changes),
        enabled: None,
    };
    call.run_on(&path, move |svc, caller, id| {
        svc.update_integration(caller, id, req)
    })
    .await?;
    Ok(Json(V3Success::new("auth config updated")))
}

/// Enables or disables an auth config.
#[utoipa::path(patch, path = "/api/v3.1/auth_configs/{nanoid}/{status}", tag = "v3 auth configs",
    operation_id = "v3SetAuthConfigStatus", params(StatusPath),
    responses((status = 200, description = "Its status changed", body = V3Success), V3ChangeErrors))]
pub async fn set_auth_config_status(call: Call, path: web::Path<StatusPath>) -> V3Reply<V3Success> {
    let enabled = path.status == AuthConfigStatus::Enabled;
    let req = UpdateIntegration {
        enabled: Some(enabled),
        ..UpdateIntegration::default()
    };
    call.run_on(&path, move |svc, caller, id| {
        svc.update_integration(caller, id, req)
    })
    .await?;
    Ok(Json(V3Success::new(match enabled {
        true => "auth config enabled",
        false => "auth config disabled",
    })))
}

/// Deletes an auth config with its connected accounts.
#[utoipa::path(delete, path = "/api/v3.1/auth_configs/{nanoid}", tag = "v3 auth configs",
    operation_id = "v3DeleteAuthConfig", params(NanoidPath),
    responses((status = 200, description = "Deleted", body = V3Success), V3ChangeErrors))]
pub async fn delete_auth_config(call: Call, path: web::Path<NanoidPath>) -> V3Reply<V3Success> {
    let deleted = call.run_on(&path, Service::delete_integration).await?;
    Ok(Json(V3Success::new(format!(
        "auth config deleted with {deleted} connected accounts"
    ))))
}
