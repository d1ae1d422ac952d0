//! `/api/v1/apps`: the provider catalog, and `/api/v1/triggers`, which the SDK's catalog
//! refresh lists (keyport has no triggers). The service filters; handlers shape.

use actix_web::web::{self, Json};

use super::call::{Call, Reply};
use super::dto::{
    AppDto, AppListQuery, NamePath, Page, ReadErrors, Refusals, TriggerDto, TriggerPage,
};
use crate::service::Caller;

/// The provider catalog.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps",
    operation_id = "listApps", params(AppListQuery),
    responses((status = 200, description = "Every matching app", body = Page<AppDto>), Refusals))]
pub async fn list(call: Call, query: web::Query<AppListQuery>) -> Reply<Page<AppDto>> {
    let (search, category) = (query.search.as_deref(), query.category.as_deref());
    let svc = call.service();
    let apps = svc.list_apps(call.caller(), search, category);
    Ok(Json(Page::whole(
        apps.into_iter()
            .map(|app| AppDto::new(app, svc.callback_url(&app.key)))
            .collect(),
    )))
}

/// One app of the catalog.
#[utoipa::path(get, path = "/api/v1/apps/{name}", tag = "apps",
    operation_id = "getApp", params(NamePath),
    responses((status = 200, description = "The app", body = AppDto), ReadErrors))]
pub async fn get(call: Call, path: web::Path<NamePath>) -> Reply<AppDto> {
    call.now(|svc, caller| {
        let app = svc.get_app(caller, &path.name)?;
        Ok(AppDto::new(app, svc.callback_url(&app.key)))
    })
}

/// keyport has no triggers: always empty.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "actions",
    operation_id = "listTriggers",
    responses((status = 200, description = "No triggers", body = Page<TriggerDto>), Refusals))]
pub async fn triggers(_caller: Caller) -> Reply<TriggerPage> {
    Ok(Json(TriggerPage::whole(Vec::new())))
}
