//! keyport's HTTP surface. One table (`routes()`) lists every route — Composio's resource
//! paths and keyport's additions beside them — and is what the server mounts, so tests
//! can walk the real route list. Handlers only extract, call the service on the blocking
//! pool, and map the result.

mod actions;
mod admin;
mod approval_page;
mod approvals;
mod apps;
mod audit;
mod call;
mod connections;
pub mod dto;
pub mod error;
mod events;
mod guard;
mod integrations;
mod mcp;
mod mount;
pub mod openapi;
pub mod pages;
mod remote_mcp;
pub mod v3;

use std::net::TcpListener;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::{DefaultHeaders, NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

pub use error::{ApiError, Envelope};
pub use guard::HostPolicy;

use crate::net::{Upstream, UpstreamConfig};
use crate::service::Error;
use crate::service::Service;

pub type ApiResult = Result<HttpResponse, ApiError>;

/// The request bodies and queries the API deserializes from clients, named by resource, so
/// the fuzz targets (tests/fuzz) can feed them untrusted bytes.
pub mod wire {
    pub use super::dto::{
        ActionListQuery, AppListQuery, ConnectionListQuery, CreateConnectionBody,
        CreateIntegrationBody, CreateKeyBody, ExecuteBody, IntegrationListQuery, ProxyBody,
        UpdateIntegrationBody, WaitQuery,
    };
    pub use super::pages::CallbackParams;

    /// The v3.1 API's bodies and queries, and its query reader.
    pub mod v3 {
        pub use crate::http::v3::dto::{
            AuthConfigListQuery, ConnectedAccountListQuery, CreateAuthConfigBody,
            CreateConnectedAccountBody, CreateLinkBody, ExecuteToolBody, ProxyToolBody,
            StatusChangeBody, ToolGetQuery, ToolListQuery, ToolkitListQuery, UpdateAuthConfigBody,
        };
        pub use crate::http::v3::parse_query;
    }
}

/// Largest JSON body accepted (a service-account key is ~2.5 KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// One mounted route.
pub struct RouteDef {
    pub method: &'static str,
    pub path: &'static str,
    /// Adds this method's handler to the resource of `path` (see `mount.rs`).
    add: fn(actix_web::Resource) -> actix_web::Resource,
}

/// The route table: one `method "path" => handler;` row per route.
macro_rules! routes {
    ($($method:ident $path:expr => $handler:path;)+) => {
        vec![$(RouteDef {
            method: stringify!($method),
            path: $path,
            add: |resource| resource.route(web::$method().to($handler)),
        }),+]
    };
}

/// v3 rows: each path is served under `/api/v3.1` and, for older SDKs, `/api/v3`.
macro_rules! v3_routes {
    ($($method:ident $path:literal => $handler:path;)+) => {{
        let mut all = Vec::new();
        $(all.extend(routes! {
            $method concat!("/api/v3.1", $path) => $handler;
            $method concat!("/api/v3", $path) => $handler;
        });)+
        all
    }};
}

/// Every route keyport serves. Everything under `/api/`, and `/mcp`, requires an API key.
pub fn routes() -> Vec<RouteDef> {
    let mut all = legacy_routes();
    // A literal path (`/tools/execute/proxy`) comes before the pattern it would match.
    all.extend(v3_routes! {
        get    "/auth_configs"                          => v3::list_auth_configs;
        post   "/auth_configs"                          => v3::create_auth_config;
        get    "/auth_configs/{nanoid}"                 => v3::get_auth_config;
        patch  "/auth_configs/{nanoid}"                 => v3::update_auth_config;
        delete "/auth_configs/{nanoid}"                 => v3::delete_auth_config;
        patch  "/auth_configs/{nanoid}/{status}"        => v3::set_auth_config_status;
        get    "/connected_accounts"                    => v3::list_connected_accounts;
        post   "/connected_accounts"                    => v3::create_connected_account;
        post   "/connected_accounts/link"               => v3::create_link;
        get    "/connected_accounts/{nanoid}"           => v3::get_connected_account;
        delete "/connected_accounts/{nanoid}"           => v3::delete_connected_account;
        patch  "/connected_accounts/{nanoid}/status"    => v3::set_connected_account_status;
        get    "/toolkits"                              => v3::list_toolkits;
        get    "/toolkits/categories"                   => v3::list_categories;
        get    "/toolkits/{slug}"                       => v3::get_toolkit;
        get    "/tools"                                 => v3::list_tools;
        post   "/tools/execute/proxy"                   => v3::proxy;
        post   "/tools/execute/{tool_slug}"             => v3::execute_tool;
        get    "/tools/{tool_slug}"                     => v3::get_tool;
    });
    all
}

/// The Composio v1/v2 surface and keyport's own routes.
fn legacy_routes() -> Vec<RouteDef> {
    routes! {
        get    "/healthz"                                   => admin::health;
        get    "/connect/{token}"                           => pages::connect;
        get    "/callback/{app}"                            => pages::callback;
        get    "/static/keyport.css"                        => pages::stylesheet;
        get    "/approvals/{token}"                         => approval_page::show;
        post   "/approvals/{token}/{id}/{verb}"             => approval_page::answer;
        get    "/api/openapi.json"                          => openapi::document;
        get    "/api/v1/client/auth/client_info"            => admin::client_info;
        get    "/api/v1/apps"                               => apps::list;
        get    "/api/v1/apps/{name}"                        => apps::get;
        get    "/api/v1/integrations"                       => integrations::list;
        post   "/api/v1/integrations"                       => integrations::create;
        get    "/api/v1/integrations/{id}"                  => integrations::get;
        patch  "/api/v1/integrations/{id}"                  => integrations::update;
        delete "/api/v1/integrations/{id}"                  => integrations::delete;
        get    "/api/v1/entities"                           => admin::list_entities;
        get    "/api/v1/connectedAccounts"                  => connections::list;
        post   "/api/v1/connectedAccounts"                  => connections::create;
        get    "/api/v1/connectedAccounts/{id}"             => connections::get;
        patch  "/api/v1/connectedAccounts/{id}"             => connections::update;
        delete "/api/v1/connectedAccounts/{id}"             => connections::delete;
        post   "/api/v1/connectedAccounts/{id}/enable"      => connections::enable;
        post   "/api/v1/connectedAccounts/{id}/disable"     => connections::disable;
        get    "/api/v1/connectedAccounts/{id}/credentials" => connections::credentials;
        get    "/api/v1/connectedAccounts/{id}/wait"        => connections::wait;
        get    "/api/v1/connectedAccounts/{id}/info"        => connections::info;
        get    "/api/v1/triggers"                           => apps::triggers;
        get    "/api/v1/events"                             => events::stream;
        get    "/api/v2/actions"                            => actions::list;
        post   "/api/v2/actions/proxy"                      => actions::proxy;
        get    "/api/v2/actions/{name}"                     => actions::get;
        post   "/api/v2/actions/{name}/execute"             => actions::execute;
        post   "/api/v1/connectedAccounts/{id}/test"        => connections::test;
        post   "/api/v1/connectedAccounts/{id}/reconnect"   => connections::reconnect;
        get    "/api/v1/keys"                               => admin::list_keys;
        post   "/api/v1/keys"                               => admin::create_key;
        post   "/api/v1/keys/revoke"                        => admin::revoke_keys;
        delete "/api/v1/keys/{id}"                          => admin::revoke_key;
        get    "/api/v1/approvals"                          => approvals::list;
        post   "/api/v1/approvals/page"                     => approvals::page;
        post   "/api/v1/approvals/{id}/approve"             => approvals::approve;
        post   "/api/v1/approvals/{id}/deny"                => approvals::deny;
        get    "/api/v1/audit"                              => audit::list;
        get    "/api/v1/audit/verify"                       => audit::verify;
        get    "/api/v1/mcp/servers"                        => remote_mcp::list;
        post   "/api/v1/mcp/servers"                        => remote_mcp::add;
        post   "/api/v1/mcp/servers/{name}/token"           => remote_mcp::token;
        post   "/api/v1/mcp/servers/{name}/step_up"         => remote_mcp::step_up;
        post   "/mcp"                                       => mcp::post;
        get    "/mcp"                                       => mcp::get;
        delete "/mcp"                                       => mcp::delete;
    }
}

/// An extractor's refusal, in the envelope of the surface `req` is for.
fn refusal(e: Error, req: &HttpRequest) -> actix_web::Error {
    let response = ApiError::Service(e).respond(Envelope::of(req.path()));
    actix_web::error::InternalError::from_response("refused", response).into()
}

fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let e = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            Error::TooLarge(format!("request body is larger than {MAX_BODY} bytes"))
        }
        JsonPayloadError::ContentType => {
            Error::invalid("send the body as JSON with Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(e) => Error::invalid(format!("malformed JSON body: {e}")),
        other => Error::invalid(format!("unreadable body: {other}")),
    };
    refusal(e, req)
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    refusal(Error::invalid(format!("bad query string: {err}")), req)
}

fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    refusal(Error::invalid(format!("bad path: {err}")), req)
}

/// No route took the request: 405 with `Allow` when the path is served under other methods
/// (RFC 9110 §15.5.6), else 404. A literal path (`/api/v2/actions/proxy`) is its own
/// resource even where a pattern (`/api/v2/actions/{name}`) would match it too.
async fn not_found(req: HttpRequest) -> HttpResponse {
    let all = routes();
    let matching: Vec<&RouteDef> = all
        .iter()
        .filter(|r| actix_web::dev::ResourceDef::new(r.path).is_match(req.path()))
        .collect();
    let literal = matching.iter().any(|r| r.path == req.path());
    let allowed: Vec<String> = matching
        .iter()
        .filter(|r| !literal || r.path == req.path())
        .map(|r| r.method.to_uppercase())
        .collect();
    let error = if allowed.is_empty() {
        ApiError::Service(Error::not_found("route", req.path()))
    } else {
        ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_string(),
            allow: allowed.join(", "),
        }
    };
    error.respond(Envelope::of(req.path()))
}

/// Mounts the route table and the extractor configuration.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::default().limit(MAX_BODY))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error));
    mount::mount(cfg, &routes());
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cache-Control", "no-store"))
        .add(("X-Frame-Options", "DENY"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = actix_web::rt::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = actix_web::rt::signal::ctrl_c().await;
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then ends the long-lived streams (event streams, MCP
/// sessions' streams) and drains in-flight requests for up to 5 s. Token exchanges still
/// under way after that are waited for by the caller (`Service::finish_exchanges`).
pub async fn serve(
    service: web::Data<Service>,
    listener: TcpListener,
    policy: HostPolicy,
) -> std::io::Result<()> {
    let policy = web::Data::new(policy);
    // One table for every worker: a session opened on one is named on another.
    let sessions = web::Data::new(mcp::Sessions::default());
    let upstream = UpstreamConfig::new(service.net().policy()).map_err(std::io::Error::other)?;
    let stopping = service.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(service.clone())
            .app_data(policy.clone())
            .app_data(sessions.clone())
            // awc's client is !Send: one per worker, sharing the policy and TLS settings.
            .app_data(web::Data::new(Upstream::new(&upstream)))
            .configure(configure)
            .default_service(web::to(not_found))
            .wrap(from_fn(guard::guard))
            .wrap(security_headers())
            // Outermost, so the guard and the router see one spelling of each path: the SDK
            // concatenates its base URL and paths, and a trailing slash in
            // COMPOSIO_BASE_URL gives `/api//v1/...`.
            .wrap(NormalizePath::new(TrailingSlash::Trim))
    })
    .listen(listener)?
    .shutdown_timeout(5)
    .disable_signals()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing requests under way");
        stopping.stop_streams();
        handle.stop(true).await;
    });
    server.await
}
