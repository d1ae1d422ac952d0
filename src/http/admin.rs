//! keyport's own additions beside the Composio resources: API keys, entities, the
//! API-key check the SDK calls `client_info`, and an unauthenticated health probe.

use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;

use super::dto::{
    ApiKeyDto, BodyErrors, ChangeErrors, ClientInfoDto, CreateKeyBody, CreatedApiKeyDto, EntityDto,
    HealthDto, IdPath, Page, Refusals,
};
use super::{ApiResult, blocking};
use crate::ids::ApiKeyId;
use crate::service::Error;
use crate::service::{Caller, EntityId, Permission, Service};

/// Mints an API key (admin).
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys",
    operation_id = "createApiKey", request_body = CreateKeyBody,
    responses((status = 200, description = "The key, shown this once", body = CreatedApiKeyDto), BodyErrors))]
pub async fn create_key(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<CreateKeyBody>,
) -> ApiResult {
    let body = body.into_inner();
    let permission = match body.permission.as_deref() {
        None => Permission::Use,
        Some(p) => p
            .parse::<Permission>()
            .map_err(|e| Error::invalid(format!("permission: {e}")))?,
    };
    let entity = body
        .entity_id
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(EntityId::parse)
        .transpose()?;
    let created = blocking(move || svc.create_key(&caller, &body.name, permission, entity)).await?;
    Ok(HttpResponse::Ok().json(CreatedApiKeyDto {
        record: ApiKeyDto::from(&created.record),
        key: created.key.expose_secret().to_string(),
    }))
}

/// API keys (admin).
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    operation_id = "listApiKeys",
    responses((status = 200, description = "Every key, never its value", body = Page<ApiKeyDto>), Refusals))]
pub async fn list_keys(svc: web::Data<Service>, caller: Caller) -> ApiResult {
    let keys = blocking(move || svc.list_keys(&caller)).await?;
    Ok(HttpResponse::Ok().json(Page::whole(keys.iter().map(ApiKeyDto::from).collect())))
}

/// Revokes an API key (admin).
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    operation_id = "revokeApiKey", params(IdPath),
    responses((status = 200, description = "The key, revoked", body = ApiKeyDto), ChangeErrors))]
pub async fn revoke_key(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
) -> ApiResult {
    let id: ApiKeyId = path.id.parse()?;
    let key = blocking(move || svc.revoke_key(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

/// Entities and their connection counts.
#[utoipa::path(get, path = "/api/v1/entities", tag = "entities",
    operation_id = "listEntities",
    responses((status = 200, description = "Every entity the key may see", body = Page<EntityDto>), Refusals))]
pub async fn list_entities(svc: web::Data<Service>, caller: Caller) -> ApiResult {
    let entities = blocking(move || svc.list_entities(&caller)).await?;
    Ok(HttpResponse::Ok().json(Page::whole(entities.iter().map(EntityDto::from).collect())))
}

/// Checks an API key (the SDK's first call).
#[utoipa::path(get, path = "/api/v1/client/auth/client_info", tag = "keys",
    operation_id = "getClientInfo",
    responses((status = 200, description = "The key's name and grant", body = ClientInfoDto), Refusals))]
pub async fn client_info(caller: Caller) -> ApiResult {
    Ok(HttpResponse::Ok().json(ClientInfoDto::from(&caller)))
}

/// The unauthenticated health probe (not under `/api/`, so not in the API document).
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto {
        status: "ok".into(),
        service: "keyport".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
