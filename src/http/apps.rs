//! `/api/v1/apps`: the provider catalog, and `/api/v1/triggers`, which the SDK's catalog
//! refresh lists (keyport has no triggers). The service filters; handlers shape.

use actix_web::{HttpResponse, web};

use super::ApiResult;
use super::dto::{
    AppDto, AppListQuery, NamePath, Page, ReadErrors, Refusals, TriggerDto, TriggerPage,
};
use crate::service::{Caller, Service};

/// The provider catalog.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps",
    operation_id = "listApps", params(AppListQuery),
    responses((status = 200, description = "Every matching app", body = Page<AppDto>), Refusals))]
pub async fn list(
    svc: web::Data<Service>,
    caller: Caller,
    query: web::Query<AppListQuery>,
) -> ApiResult {
    let apps = svc.list_apps(&caller, query.search.as_deref(), query.category.as_deref());
    let items = apps.into_iter().map(AppDto::from).collect();
    Ok(HttpResponse::Ok().json(Page::whole(items)))
}

/// One app of the catalog.
#[utoipa::path(get, path = "/api/v1/apps/{name}", tag = "apps",
    operation_id = "getApp", params(NamePath),
    responses((status = 200, description = "The app", body = AppDto), ReadErrors))]
pub async fn get(svc: web::Data<Service>, caller: Caller, path: web::Path<NamePath>) -> ApiResult {
    let app = svc.get_app(&caller, &path.name)?;
    Ok(HttpResponse::Ok().json(AppDto::from(app)))
}

/// keyport has no triggers: always empty.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "actions",
    operation_id = "listTriggers",
    responses((status = 200, description = "No triggers", body = Page<TriggerDto>), Refusals))]
pub async fn triggers(_caller: Caller) -> ApiResult {
    Ok(HttpResponse::Ok().json(TriggerPage::whole(Vec::new())))
}
