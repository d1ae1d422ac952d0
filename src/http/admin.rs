//! keyport's own additions beside the Composio resources: API keys, entities, the
//! API-key check the SDK calls `client_info`, and an unauthenticated health probe.

use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::dto::items;
use super::{ApiResult, blocking};
use crate::domain::api_key::{ApiKey, Permission};
use crate::ids::{ApiKeyId, EntityId};
use crate::service::Error;
use crate::service::{Caller, Service};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyBody {
    name: String,
    permission: Option<String>,
    entity_id: Option<String>,
}

fn key_json(key: &ApiKey) -> serde_json::Value {
    json!({
        "id": key.id.to_string(),
        "name": key.name,
        "prefix": key.prefix,
        "permission": key.permission.as_str(),
        "entityId": key.entity.as_ref().map(EntityId::as_str),
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    })
}

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
    let mut out = key_json(&created.record);
    out["key"] = json!(created.key.expose_secret());
    Ok(HttpResponse::Ok().json(out))
}

pub async fn list_keys(svc: web::Data<Service>, caller: Caller) -> ApiResult {
    let keys = blocking(move || svc.list_keys(&caller)).await?;
    Ok(HttpResponse::Ok().json(items(keys.iter().map(key_json).collect())))
}

pub async fn revoke_key(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult {
    let id: ApiKeyId = path.parse()?;
    let key = blocking(move || svc.revoke_key(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(key_json(&key)))
}

pub async fn list_entities(svc: web::Data<Service>, caller: Caller) -> ApiResult {
    let entities = blocking(move || svc.list_entities(&caller)).await?;
    let list: Vec<_> = entities
        .iter()
        .map(|(id, created, count)| json!({"id": id.as_str(), "createdAt": created, "connections": count}))
        .collect();
    Ok(HttpResponse::Ok().json(items(list)))
}

/// The Composio SDK's API-key check; only the status matters to it.
pub async fn client_info(caller: Caller) -> ApiResult {
    Ok(HttpResponse::Ok().json(json!({
        "client": {"id": caller.key_id.to_string(), "name": caller.name},
        "apiKey": {"permission": caller.permission.as_str(), "entityId": caller.entity.as_ref().map(EntityId::as_str)},
    })))
}

pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({"status": "ok", "service": "keyport", "version": env!("CARGO_PKG_VERSION")}))
}
