//! `/api/v1/integrations`: Composio's integration resource.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::dto::{IntegrationDto, items, parse_scheme};
use super::{ApiResult, blocking};
use crate::ids::IntegrationId;
use crate::service::{Caller, CreateIntegration, Service, UpdateIntegration};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    app_id: Option<String>,
    app_name: Option<String>,
    name: Option<String>,
    auth_scheme: Option<String>,
    auth_config: Option<Map<String, Value>>,
    use_composio_auth: Option<bool>,
    force_new_integration: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    auth_config: Option<Map<String, Value>>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    app_name: Option<String>,
    app_id: Option<String>,
    show_disabled: Option<bool>,
}

pub async fn create(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> ApiResult {
    let body = body.into_inner();
    let _ = body.force_new_integration; // every create makes a new integration
    let app = body
        .app_name
        .or(body.app_id)
        .ok_or_else(|| crate::service::Error::invalid("appName: required (or appId)"))?;
    let auth_scheme = body.auth_scheme.as_deref().map(parse_scheme).transpose()?;
    let mut auth_config = body.auth_config.unwrap_or_default();
    if let Ok(found) = svc.find_app(&app) {
        let scheme = auth_scheme.unwrap_or_else(|| found.default_scheme());
        super::compat::normalize_auth_config(svc.public_url(), found, scheme, &mut auth_config);
    }
    let req = CreateIntegration {
        app,
        name: body.name,
        auth_scheme,
        auth_config,
        use_composio_auth: body.use_composio_auth.unwrap_or(false),
    };
    let view = blocking(move || svc.create_integration(&caller, req)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let app = query.app_name.or(query.app_id);
    let show_disabled = query.show_disabled.unwrap_or(false);
    let views =
        blocking(move || svc.list_integrations(&caller, app.as_deref(), show_disabled)).await?;
    Ok(HttpResponse::Ok().json(items(views.iter().map(IntegrationDto::from).collect())))
}

pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: IntegrationId = path.parse()?;
    let view = blocking(move || svc.get_integration(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

pub async fn update(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<UpdateBody>,
) -> ApiResult {
    let id: IntegrationId = path.parse()?;
    let body = body.into_inner();
    let req = UpdateIntegration {
        name: body.name,
        auth_config: body.auth_config,
        enabled: body.enabled,
    };
    let view = blocking(move || svc.update_integration(&caller, id, req)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

pub async fn delete(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: IntegrationId = path.parse()?;
    let deleted = blocking(move || svc.delete_integration(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "success", "deletedConnections": deleted})))
}
