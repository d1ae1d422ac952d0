//! `/api/v3.1/toolkits`: keyport's provider catalog under v3's name, with each toolkit's
//! count of built-in tools.

use std::collections::BTreeSet;

use actix_web::web::{self, Json};

use super::dto::{CategoryDto, SlugPath, ToolkitDetailDto, ToolkitDto, ToolkitListQuery, V3Page};
use super::{Paging, V3Query, V3Reply};
use crate::http::call::Call;
use crate::http::dto::{V3ReadErrors, V3Refusals};
use crate::service::ACTION_VERSION as VERSION;
use crate::service::{Caller, Service};

/// How many built-in tools `app` has.
fn tools_of(svc: &Service, caller: &Caller, app: &str) -> crate::service::Result<u64> {
    Ok(svc
        .list_action_views(caller, &[app.to_string()], None)?
        .len() as u64)
}

/// Toolkits, filtered, one page.
#[utoipa::path(get, path = "/api/v3.1/toolkits", tag = "v3 toolkits",
    operation_id = "v3ListToolkits", params(ToolkitListQuery),
    responses((status = 200, description = "One page of toolkits", body = V3Page<ToolkitDto>), V3Refusals))]
pub async fn list_toolkits(
    call: Call,
    query: V3Query<ToolkitListQuery>,
) -> V3Reply<V3Page<ToolkitDto>> {
    let q = query.0;
    let paging = Paging::new(q.limit, q.cursor.as_deref())?;
    if q.kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("custom"))
    {
        return Ok(Json(paging.page(Vec::new(), 0)));
    }
    let (svc, caller) = (call.service(), call.caller());
    let mut items = Vec::new();
    for app in svc.list_apps(caller, q.search.as_deref(), q.category.as_deref()) {
        items.push(ToolkitDto::new(
            app,
            tools_of(svc, caller, &app.key)?,
            VERSION,
        ));
    }
    Ok(Json(paging.window(items)))
}

/// One toolkit, with what each of its auth schemes configures and takes.
#[utoipa::path(get, path = "/api/v3.1/toolkits/{slug}", tag = "v3 toolkits",
    operation_id = "v3GetToolkit", params(SlugPath),
    responses((status = 200, description = "The toolkit", body = ToolkitDetailDto), V3ReadErrors))]
pub async fn get_toolkit(call: Call, path: web::Path<SlugPath>) -> V3Reply<ToolkitDetailDto> {
    let (svc, caller) = (call.service(), call.caller());
    let app = svc.get_app(caller, &path.slug)?;
    Ok(Json(ToolkitDetailDto::new(
        app,
        tools_of(svc, caller, &app.key)?,
        VERSION,
    )))
}

/// The catalog's categories.
#[utoipa::path(get, path = "/api/v3.1/toolkits/categories", tag = "v3 toolkits",
    operation_id = "v3ListToolkitCategories",
    responses((status = 200, description = "Every category", body = V3Page<CategoryDto>), V3Refusals))]
pub async fn list_categories(call: Call) -> V3Reply<V3Page<CategoryDto>> {
    let names: BTreeSet<String> = call
        .service()
        .list_apps(call.caller(), None, None)
        .into_iter()
        .flat_map(|app| app.categories.iter().cloned())
        .collect();
    let items: Vec<CategoryDto> = names.iter().map(|n| CategoryDto::new(n)).collect();
    let total = items.len() as u64;
    let paging = Paging::new(Some(total.max(1) as f64), None)?;
    Ok(Json(paging.page(items, total)))
}
