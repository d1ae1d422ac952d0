//! OAuth 2.0 end to end. `browser`: against a real authorization server (panva's
//! oidc-provider, from npm, started here on 127.0.0.1) and a real browser (Debian's
//! Chromium driven by playwright-core): authorization code + PKCE, refresh with rotation
//! under contention, dead grants, state and redirect checks, revocation, client
//! credentials. `lifecycle`: reconnecting in place, failed flows returning to the caller,
//! deleting an integration. `keepalive`: idle grants refreshed before their refresh tokens
//! lapse, and only those. `shutdown`: SIGTERM while a refresh is in flight.
//! `token_endpoint`: token endpoints that misbehave on purpose (stand-ins),
//! and a flow state that expires on the service's clock.

mod browser;
mod keepalive;
mod lifecycle;
mod shutdown;
mod token_endpoint;

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::peers::OidcProvider;

pub(crate) const CLIENT_ID: &str = "keyport-it";
pub(crate) const CLIENT_SECRET: &str = "keyport-it-secret-9f2c";

/// The oidc-provider, its one client redirecting to keyport's `testidp` callback.
fn idp(server: &Server, access_ttl: u32) -> OidcProvider {
    OidcProvider::start(
        (CLIENT_ID, CLIENT_SECRET),
        &format!("{}/callback/testidp", server.url),
        Some(access_ttl),
    )
}

pub(crate) fn oauth_integration(server: &Server, idp: &OidcProvider, extra: Value) -> String {
    oauth_integration_of(server, "testidp", idp, extra)
}

/// [`oauth_integration`] of another app declared like `testidp`.
pub(crate) fn oauth_integration_of(
    server: &Server,
    app: &str,
    idp: &OidcProvider,
    extra: Value,
) -> String {
    let mut config = json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorization_url": format!("{}/auth", idp.issuer),
        "token_url": format!("{}/token", idp.issuer),
        "revocation_url": format!("{}/token/revocation", idp.issuer),
        "scopes": "openid offline_access",
        "authorization_params": {"prompt": "consent"},
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let integration =
        server.integration(json!({"appName": app, "authScheme": "OAUTH2", "authConfig": config}));
    integration["id"].as_str().unwrap().to_string()
}

/// A new INITIATED connection of `entity`: its id and connect link.
fn start_connection(
    server: &Server,
    integration: &str,
    entity: &str,
    redirect: Option<&str>,
) -> (String, String) {
    let created = server.create_connection(
        json!({"integrationId": integration, "userUuid": entity, "data": {}, "labels": [], "redirectUri": redirect}),
    );
    assert_eq!(created["connectionStatus"], "INITIATED", "{created}");
    let url = created["redirectUrl"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/connect/", server.url)),
        "{url}"
    );
    (
        created["connectedAccountId"].as_str().unwrap().to_string(),
        url,
    )
}

/// An ACTIVE connection of `entity` through `integration`, completed in Chromium.
fn connected(server: &Server, integration: &str, entity: &str) -> String {
    let (id, link) = start_connection(server, integration, entity, None);
    crate::common::peers::drive(&link, &["--expect-text", "Connected"]);
    assert_eq!(server.connection(&id)["status"], "ACTIVE");
    id
}

/// The state of the flow behind a connect link.
fn state_of(connect_url: &str) -> String {
    let authorize = crate::common::idp::authorize_url(connect_url).expect("continue link");
    crate::common::idp::query_param(&authorize, "state").expect("state")
}
