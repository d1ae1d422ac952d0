//! keyport's own additions beside the Composio resources: API keys, entities, the
//! API-key check the SDK calls `client_info`, and an unauthenticated health probe.

use actix_web::web::{self, Json};

use super::call::{Call, Reply};
use super::dto::{
    ApiKeyDto, BodyErrors, ChangeErrors, ClientInfoDto, CreateKeyBody, CreatedApiKeyDto, EntityDto,
    HealthDto, IdPath, Page, Refusals, RevokeKeysBody, RevokedKeysDto,
};
use crate::service::Error;
use crate::service::{Approval, Caller, CreateKey, EntityId, Permission, ProxyMethod, Service};

/// Mints an API key (admin).
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys",
    operation_id = "createApiKey", request_body = CreateKeyBody,
    responses((status = 200, description = "The key, shown this once", body = CreatedApiKeyDto), BodyErrors))]
pub async fn create_key(call: Call, body: Json<CreateKeyBody>) -> Reply<CreatedApiKeyDto> {
    let body = body.into_inner();
    let permission = body
        .permission
        .as_deref()
        .map(|p| {
            p.parse::<Permission>()
                .map_err(|e| Error::invalid(format!("permission: {e}")))
        })
        .transpose()?;
    let entity = body
        .entity_id
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(EntityId::parse)
        .transpose()?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|at| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Error::invalid("expiresAt: not an RFC 3339 date-time"))
        })
        .transpose()?;
    let methods = body
        .allowed_methods
        .map(|m| {
            m.iter()
                .map(|m| m.parse::<ProxyMethod>())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| Error::invalid(format!("allowedMethods: {e}")))?;
    let expires_in = body
        .expires_in
        .map(|secs| match secs {
            s if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= u64::MAX as f64 => {
                Ok(s as u64)
            }
            _ => Err(Error::invalid("expiresIn: a whole number of seconds")),
        })
        .transpose()?;
    let approval = body
        .approval
        .as_deref()
        .map(|a| {
            a.parse::<Approval>()
                .map_err(|e| Error::invalid(format!("approval: {e}")))
        })
        .transpose()?
        .unwrap_or_default();
    let req = CreateKey {
        approval,
        name: body.name,
        permission,
        entity,
        expires_in,
        expires_at,
        apps: body.allowed_apps,
        actions: body.allowed_actions,
        methods,
    };
    call.reply(move |svc, caller| svc.create_key(caller, req))
        .await
}

/// Revokes every key that is not an admin key, at once (admin): the panic button.
#[utoipa::path(post, path = "/api/v1/keys/revoke", tag = "keys",
    operation_id = "revokeAllApiKeys", request_body = RevokeKeysBody,
    responses((status = 200, description = "How many keys were revoked", body = RevokedKeysDto), BodyErrors))]
pub async fn revoke_keys(call: Call, body: Json<RevokeKeysBody>) -> Reply<RevokedKeysDto> {
    let all = body.all;
    let revoked = call
        .run(move |svc, caller| svc.revoke_all_keys(caller, all))
        .await?;
    Ok(Json(RevokedKeysDto {
        revoked: revoked as u64,
    }))
}

/// API keys (admin).
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    operation_id = "listApiKeys",
    responses((status = 200, description = "Every key, never its value", body = Page<ApiKeyDto>), Refusals))]
pub async fn list_keys(call: Call) -> Reply<Page<ApiKeyDto>> {
    call.reply(Service::list_keys).await
}

/// Revokes an API key (admin).
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    operation_id = "revokeApiKey", params(IdPath),
    responses((status = 200, description = "The key, revoked", body = ApiKeyDto), ChangeErrors))]
pub async fn revoke_key(call: Call, path: web::Path<IdPath>) -> Reply<ApiKeyDto> {
    call.reply_on(&path, Service::revoke_key).await
}

/// Entities and their connection counts.
#[utoipa::path(get, path = "/api/v1/entities", tag = "entities",
    operation_id = "listEntities",
    responses((status = 200, description = "Every entity the key may see", body = Page<EntityDto>), Refusals))]
pub async fn list_entities(call: Call) -> Reply<Page<EntityDto>> {
    call.reply(Service::list_entities).await
}

/// Checks an API key (the SDK's first call).
#[utoipa::path(get, path = "/api/v1/client/auth/client_info", tag = "keys",
    operation_id = "getClientInfo",
    responses((status = 200, description = "The key's name and grant", body = ClientInfoDto), Refusals))]
pub async fn client_info(caller: Caller) -> Reply<ClientInfoDto> {
    Ok(Json(ClientInfoDto::from(&caller)))
}

/// The unauthenticated health probe (not under `/api/`, so not in the API document).
pub async fn health() -> Json<HealthDto> {
    Json(HealthDto {
        status: "ok".into(),
        service: "keyport".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
