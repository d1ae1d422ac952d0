//! `GET /api/openapi.json`: the OpenAPI description of keyport's API, generated from the
//! wire types (`super::dto`) and the handlers' `#[utoipa::path]` operations. No copy is
//! kept by hand; a test keeps the generated one true: its operations are exactly the
//! `/api/` routes of [`super::routes`], and real responses validate against it.
//!
//! It sits under `/api/`, so it needs an API key like every other `/api/` route: nothing in
//! it is secret, but one rule with no exceptions ("everything under /api needs a key") is
//! simpler to audit than an allow-list, and the route-walking auth test stays exhaustive.
//! Tools load it with the same key they test with (`schemathesis run URL -H 'x-api-key: …'`).

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dto::{ErrorBody, HealthDto, Refusals, V3ErrorBody, error_components};
use super::{
    ApiResult, actions, admin, approvals, apps, audit, connections, events, integrations,
    remote_mcp, v3,
};
use crate::service::Caller;
use crate::service::Error;

const DESCRIPTION: &str = "keyport's HTTP API: Composio's resource shapes (camelCase v1/v2 \
resources, snake_case inside apps and actions, {\"items\": [...]} lists) plus keyport's \
additions, and beside them Composio's v3.1 API (/api/v3.1/ and /api/v3/: auth configs, \
connected accounts, toolkits, tools; snake_case, cursor pages) over the same objects. Every \
route under /api/ needs an API key (x-api-key or Authorization: Bearer). Errors are \
{\"error\": {\"code\", \"message\"}} (v3: {\"error\": {\"message\", \"code\", \"slug\", \
\"status\"}}) with a 4xx status; a 5xx is a bug.";

/// Adds what the operations refer to but do not carry: the two ways to present an API key
/// and the error responses.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.responses.extend(error_components());
        // The crate declares no license; an empty one is not worth publishing.
        doc.info.license = None;
    }
}

/// The v3 surface is served under `/api/v3.1/` and `/api/v3/` alike: each `/api/v3.1/`
/// operation is documented under both, the older one with its operation id suffixed.
struct V3Alias;

impl Modify for V3Alias {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let aliases: Vec<(String, utoipa::openapi::PathItem)> = doc
            .paths
            .paths
            .iter()
            .filter_map(|(path, item)| {
                let rest = path.strip_prefix("/api/v3.1/")?;
                let mut item = item.clone();
                for op in operations(&mut item) {
                    op.operation_id = op.operation_id.take().map(|id| format!("{id}Legacy"));
                }
                Some((format!("/api/v3/{rest}"), item))
            })
            .collect();
        doc.paths.paths.extend(aliases);
    }
}

/// Every operation of a path item.
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<&mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
    .collect()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "keyport", description = DESCRIPTION),
    servers((url = "http://127.0.0.1:7790", description = "the default listen address")),
    security(("apiKey" = []), ("bearer" = [])),
    paths(
        document,
        admin::client_info,
        apps::list,
        apps::get,
        integrations::list,
        integrations::create,
        integrations::get,
        integrations::update,
        integrations::delete,
        admin::list_entities,
        connections::list,
        connections::create,
        connections::get,
        connections::delete,
        connections::enable,
        connections::disable,
        connections::credentials,
        connections::wait,
        connections::info,
        connections::test,
        connections::reconnect,
        connections::update,
        apps::triggers,
        events::stream,
        actions::list,
        actions::proxy,
        actions::get,
        actions::execute,
        admin::list_keys,
        admin::create_key,
        admin::revoke_keys,
        admin::revoke_key,
        approvals::list,
        approvals::page,
        approvals::approve,
        approvals::deny,
        audit::list,
        audit::verify,
        remote_mcp::list,
        remote_mcp::add,
        remote_mcp::token,
        remote_mcp::step_up,
        v3::list_auth_configs,
        v3::create_auth_config,
        v3::get_auth_config,
        v3::update_auth_config,
        v3::delete_auth_config,
        v3::set_auth_config_status,
        v3::list_connected_accounts,
        v3::create_connected_account,
        v3::create_link,
        v3::get_connected_account,
        v3::delete_connected_account,
        v3::set_connected_account_status,
        v3::list_toolkits,
        v3::list_categories,
        v3::get_toolkit,
        v3::list_tools,
        v3::proxy,
        v3::execute_tool,
        v3::get_tool,
    ),
    components(schemas(ErrorBody, HealthDto, V3ErrorBody)),
    modifiers(&Shared, &V3Alias)
)]
struct ApiDoc;

/// The API document.
pub fn api_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    operation_id = "getOpenApi",
    responses((status = 200, description = "The OpenAPI document", body = Object), Refusals))]
pub async fn document(_caller: Caller) -> ApiResult {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    let json = JSON.get_or_init(|| api_document().to_json().map_err(|e| e.to_string()));
    match json {
        Ok(text) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(text.clone())),
        Err(e) => {
            Err(Error::Internal(format!("the OpenAPI document does not serialize: {e}")).into())
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_api_route() {
        let doc = serde_json::to_value(api_document()).unwrap();
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1."))
        );
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = super::super::routes()
            .iter()
            .filter(|r| r.path.starts_with("/api/"))
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        assert_eq!(documented, routed);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(api_document()).unwrap();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            let (kind, name) = target.split_once('/').unwrap();
            assert!(
                doc["components"][kind][name].is_object(),
                "dangling reference to {target}"
            );
        }
    }
}
