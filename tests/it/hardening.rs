//! keyport as a localhost service under attack (issue 7), each property proven against the
//! real binary with its figures printed: hostile web pages (`pages`: DNS rebinding through
//! the `Host` header, cross-origin requests, CORS), other local users (`users`: file modes
//! under `umask 000`, core dumps, dumpability), secrets in logs (`logs`) and in `Debug` or a
//! hostile KDF header (`secrets`), crashes (`crash`), and the API schema with schemathesis
//! (`schema`). This file holds what several of them share.

mod crash;
mod logs;
mod pages;
mod schema;
mod secrets;
mod token_server;
mod users;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::Server;

pub fn value_str(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// Runs a command in the background; used by modules that wrap keyport (sh, setpriv).
pub fn spawn_logged(dir: &Path, mut cmd: Command) -> Result<Server, std::process::Output> {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    cmd.stdout(Stdio::piped()).stderr(log);
    Server::spawn(dir, cmd)
}

/// A user provider file declaring `testidp`, an OAuth 2.0 app whose URLs each integration
/// overrides (the token endpoints of these tests only get their port when they start).
pub fn write_testidp(dir: &Path) {
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::write(
        dir.join("providers/testidp.json"),
        json!({"apps": [{
            "key": "testidp", "name": "Test IdP", "description": "token endpoint started by the tests",
            "categories": ["testing"], "base_url": "http://127.0.0.1:9/api",
            "auth_schemes": [{"mode": "OAUTH2",
                "authorization_url": "http://127.0.0.1:9/auth", "token_url": "http://127.0.0.1:9/token",
                "default_scopes": ["openid"], "scope_separator": " ", "pkce": true, "token_auth": "client_secret_post"}]
        }]})
        .to_string(),
    )
    .unwrap();
}

/// An OAUTH2 integration of `testidp` whose token endpoint is `tokens`.
pub fn testidp_integration(
    server: &Server,
    tokens: &token_server::TokenServer,
    client_secret: &str,
) -> Value {
    server.ok(
        "POST",
        "/api/v1/integrations",
        Some(
            &json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": {
            "client_id": "keyport-tests", "client_secret": client_secret,
            "authorization_url": format!("http://127.0.0.1:{}/auth", tokens.port),
            "token_url": tokens.token_url()}}),
        ),
    )
}

/// Connects `entity` through the browser flow without a browser: the connect page's link
/// carries the state, and the callback gets `code`. Returns the ACTIVE connection's id.
pub fn oauth_connection(server: &Server, integration: &Value, entity: &str, code: &str) -> String {
    let (status, body) =
        oauth_connection_try(&server.url, &server.admin, integration, entity, code)
            .unwrap_or_else(|| panic!("OAuth connection for {entity} failed"));
    assert_eq!(status, 200, "callback: {body}");
    body
}

/// The same, tolerating a server that dies midway (`None`); `Some((callback status, id))`.
pub fn oauth_connection_try(
    base: &str,
    admin: &str,
    integration: &Value,
    entity: &str,
    code: &str,
) -> Option<(u16, String)> {
    let agent = crate::common::agent();
    let created = agent
        .post(format!("{base}/api/v1/connectedAccounts"))
        .header("x-api-key", admin)
        .send_json(json!({"integrationId": integration["id"], "userUuid": entity, "data": {}}))
        .ok()?
        .body_mut()
        .read_json::<Value>()
        .ok()?;
    let id = created["connectedAccountId"].as_str()?.to_string();
    let link = created["redirectUrl"].as_str()?;
    let html = agent
        .get(link)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let marker = "id=\"continue\" href=\"";
    let start = html.find(marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    let authorize = html[start..end].replace("&amp;", "&");
    let state = url::Url::parse(&authorize)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "state")?
        .1
        .into_owned();
    let callback = agent
        .get(format!("{base}/callback/testidp"))
        .query("code", code)
        .query("state", &state)
        .call()
        .ok()?;
    Some((callback.status().as_u16(), id))
}
