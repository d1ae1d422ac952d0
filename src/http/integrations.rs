//! `/api/v1/integrations`: Composio's integration resource.

use actix_web::{HttpResponse, web};

use super::dto::{
    BodyErrors, ChangeErrors, CreateIntegrationBody, DeletedIntegrationDto, IdPath, IntegrationDto,
    IntegrationListQuery, Page, ReadErrors, SendErrors, StatusDto, UpdateIntegrationBody,
    parse_scheme,
};
use super::{ApiResult, blocking};
use crate::ids::IntegrationId;
use crate::service::Error;
use crate::service::{Caller, CreateIntegration, Service, UpdateIntegration};

/// Creates an integration.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations",
    operation_id = "createIntegration", request_body = CreateIntegrationBody,
    responses((status = 200, description = "The new integration", body = IntegrationDto), SendErrors))]
pub async fn create(
    svc: web::Data<Service>,
    caller: Caller,
    body: web::Json<CreateIntegrationBody>,
) -> ApiResult {
    let body = body.into_inner();
    let app = body
        .app_name
        .or(body.app_id)
        .ok_or_else(|| Error::invalid("appName: required (or appId)"))?;
    let req = CreateIntegration {
        app,
        name: body.name,
        auth_scheme: body.auth_scheme.as_deref().map(parse_scheme).transpose()?,
        auth_config: body.auth_config.unwrap_or_default(),
        use_composio_auth: body.use_composio_auth.unwrap_or(false),
    };
    let view = blocking(move || svc.create_integration(&caller, req)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

/// Integrations.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
    operation_id = "listIntegrations", params(IntegrationListQuery),
    responses((status = 200, description = "Every matching integration", body = Page<IntegrationDto>), ReadErrors))]
pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<IntegrationListQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let app = query.app_name.or(query.app_id);
    let show_disabled = query.show_disabled.unwrap_or(false);
    let views =
        blocking(move || svc.list_integrations(&caller, app.as_deref(), show_disabled)).await?;
    let items = views.iter().map(IntegrationDto::from).collect();
    Ok(HttpResponse::Ok().json(Page::whole(items)))
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "getIntegration", params(IdPath),
    responses((status = 200, description = "The integration", body = IntegrationDto), ReadErrors))]
pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: IntegrationId = path.id.parse()?;
    let view = blocking(move || svc.get_integration(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

/// Updates name, authConfig or enabled.
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "updateIntegration", params(IdPath), request_body = UpdateIntegrationBody,
    responses((status = 200, description = "The integration, updated", body = IntegrationDto), BodyErrors))]
pub async fn update(
    svc: web::Data<Service>,
    caller: Caller,
    path: web::Path<IdPath>,
    body: web::Json<UpdateIntegrationBody>,
) -> ApiResult {
    let id: IntegrationId = path.id.parse()?;
    let body = body.into_inner();
    let req = UpdateIntegration {
        name: body.name,
        auth_config: body.auth_config,
        enabled: body.enabled,
    };
    let view = blocking(move || svc.update_integration(&caller, id, req)).await?;
    Ok(HttpResponse::Ok().json(IntegrationDto::from(&view)))
}

/// Deletes an integration with its connections.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "deleteIntegration", params(IdPath),
    responses((status = 200, description = "Deleted, with how many connections went with it", body = DeletedIntegrationDto), ChangeErrors))]
pub async fn delete(svc: web::Data<Service>, caller: Caller, path: web::Path<IdPath>) -> ApiResult {
    let id: IntegrationId = path.id.parse()?;
    let deleted = blocking(move || svc.delete_integration(&caller, id)).await?;
    Ok(HttpResponse::Ok().json(DeletedIntegrationDto {
        status: StatusDto::success().status,
        deleted_connections: u64::try_from(deleted).unwrap_or(u64::MAX),
    }))
}
