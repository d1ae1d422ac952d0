//! `/api/v1/integrations`: Composio's integration resource.

use actix_web::web::{self, Json};

use super::call::{Call, Reply};
use super::dto::{
    BodyErrors, ChangeErrors, CreateIntegrationBody, DeletedIntegrationDto, IdPath, IntegrationDto,
    IntegrationListQuery, Page, ReadErrors, SendErrors, StatusDto, UpdateIntegrationBody,
    parse_scheme,
};
use crate::service::Error;
use crate::service::{CreateIntegration, FindIntegrations, Service, UpdateIntegration};

/// Creates an integration.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations",
    operation_id = "createIntegration", request_body = CreateIntegrationBody,
    responses((status = 200, description = "The new integration", body = IntegrationDto), SendErrors))]
pub async fn create(call: Call, body: Json<CreateIntegrationBody>) -> Reply<IntegrationDto> {
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
        managed_auth: body
            .use_composio_auth
            .unwrap_or(false)
            .then_some("useComposioAuth"),
    };
    call.reply(move |svc, caller| svc.create_integration(caller, req))
        .await
}

/// Integrations.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations",
    operation_id = "listIntegrations", params(IntegrationListQuery),
    responses((status = 200, description = "Every matching integration", body = Page<IntegrationDto>), ReadErrors))]
pub async fn list(
    call: Call,
    query: web::Query<IntegrationListQuery>,
) -> Reply<Page<IntegrationDto>> {
    let query = query.into_inner();
    let find = FindIntegrations {
        apps: query
            .app_name
            .or(query.app_id)
            .filter(|a| !a.trim().is_empty())
            .into_iter()
            .collect(),
        search: None,
        show_disabled: query.show_disabled.unwrap_or(false),
    };
    call.reply(move |svc, caller| svc.find_integrations(caller, find))
        .await
}

/// One integration.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "getIntegration", params(IdPath),
    responses((status = 200, description = "The integration", body = IntegrationDto), ReadErrors))]
pub async fn get(call: Call, path: web::Path<IdPath>) -> Reply<IntegrationDto> {
    call.reply_on(&path, Service::get_integration).await
}

/// Updates name, authConfig or enabled.
#[utoipa::path(patch, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "updateIntegration", params(IdPath), request_body = UpdateIntegrationBody,
    responses((status = 200, description = "The integration, updated", body = IntegrationDto), BodyErrors))]
pub async fn update(
    call: Call,
    path: web::Path<IdPath>,
    body: Json<UpdateIntegrationBody>,
) -> Reply<IntegrationDto> {
    let body = body.into_inner();
    let req = UpdateIntegration {
        name: body.name,
        auth_config: body.auth_config,
        enabled: body.enabled,
    };
    call.reply_on(&path, move |svc, caller, id| {
        svc.update_integration(caller, id, req)
    })
    .await
}

/// Deletes an integration with its connections.
#[utoipa::path(delete, path = "/api/v1/integrations/{id}", tag = "integrations",
    operation_id = "deleteIntegration", params(IdPath),
    responses((status = 200, description = "Deleted, with how many connections went with it", body = DeletedIntegrationDto), ChangeErrors))]
pub async fn delete(call: Call, path: web::Path<IdPath>) -> Reply<DeletedIntegrationDto> {
    let deleted = call.run_on(&path, Service::delete_integration).await?;
    Ok(Json(DeletedIntegrationDto {
        status: StatusDto::success().status,
        deleted_connections: u64::try_from(deleted).unwrap_or(u64::MAX),
    }))
}
