//! `/api/v1/apps`: the provider catalog in Composio's AppModel shape (snake_case inside, as
//! the SDK parses it): each app with its auth schemes and their fields — what a developer
//! configures (`expected_from_customer: false`) and what a connection supplies (`true`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiResult;
use super::dto::{ExpectedFieldDto, items};
use crate::providers::App;
use crate::providers::catalog::SchemeDetails;
use crate::service::Error;
use crate::service::{Caller, Service};

fn scheme_json(app: &App, index: usize) -> Value {
    let spec = &app.schemes[index];
    let mut fields: Vec<ExpectedFieldDto> = spec
        .integration_fields()
        .iter()
        .map(ExpectedFieldDto::from)
        .collect();
    fields.extend(
        spec.connection_fields(app)
            .iter()
            .map(ExpectedFieldDto::from),
    );
    let mut out = json!({
        "scheme_name": format!("{}_{}", app.key, spec.mode.as_str().to_ascii_lowercase()),
        "auth_mode": spec.mode.as_str(),
        "fields": fields,
    });
    match &spec.details {
        SchemeDetails::OAuth2(o) => {
            out["authorization_url"] = json!(o.authorization_url.as_str());
            out["token_url"] = json!(o.token_url.as_str());
            out["default_scopes"] = json!(o.default_scopes);
            out["pkce"] = json!(o.pkce);
            out["client_credentials"] = json!(o.client_credentials);
        }
        SchemeDetails::OAuth1(o) => {
            out["authorization_url"] = json!(o.authorization_url.as_str());
            out["token_url"] = json!(o.access_token_url.as_str());
        }
        _ => {}
    }
    out
}

/// One app as Composio's AppModel.
pub fn app_json(app: &App) -> Value {
    let no_auth = app
        .schemes
        .iter()
        .all(|s| s.mode == crate::domain::AuthScheme::NoAuth);
    json!({
        "name": app.key,
        "key": app.key,
        "appId": app.app_id().to_string(),
        "display_name": app.name,
        "description": app.description,
        "categories": app.categories,
        "docs": app.docs,
        "meta": {"base_url": app.base_url, "variables": app.variables.iter().map(|v| &v.name).collect::<Vec<_>>()},
        "auth_schemes": (0..app.schemes.len()).map(|i| scheme_json(app, i)).collect::<Vec<_>>(),
        "testConnectors": [],
        "no_auth": no_auth,
        "enabled": true,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    category: Option<String>,
}

fn matches(app: &App, query: &ListQuery) -> bool {
    let search = query
        .search
        .as_deref()
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let category = query
        .category
        .as_deref()
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let search_ok = search.is_none_or(|s| {
        app.key.contains(&s)
            || app.name.to_lowercase().contains(&s)
            || app.description.to_lowercase().contains(&s)
    });
    let category_ok = category.is_none_or(|c| app.categories.iter().any(|a| a.to_lowercase() == c));
    search_ok && category_ok
}

pub async fn list(
    svc: web::Data<Service>,
    _caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let list: Vec<Value> = svc
        .catalog()
        .apps()
        .filter(|a| matches(a, &query))
        .map(app_json)
        .collect();
    Ok(HttpResponse::Ok().json(items(list)))
}

pub async fn get(svc: web::Data<Service>, _caller: Caller, path: web::Path<String>) -> ApiResult {
    let name = path.into_inner();
    let app = svc
        .catalog()
        .get(&name)
        .ok_or_else(|| Error::not_found("app", name.clone()))?;
    Ok(HttpResponse::Ok().json(app_json(app)))
}
