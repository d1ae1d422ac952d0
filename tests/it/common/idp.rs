//! `testidp`: the OAuth 2.0 app the tests and benches declare in a user provider file, with
//! placeholder URLs that each integration overrides (the token endpoints they start only
//! get a port when they run), and the browser-less way through its flow: the connect
//! page's link carries the state, and keyport's callback gets the code.

use std::path::Path;

use serde_json::{Value, json};

use super::client::agent;
use super::launcher::{Launch, Server};

/// Writes `providers/testidp.json` under `dir` (a data dir, or any providers' parent).
pub fn write_testidp(dir: &Path) {
    write_oauth_app(dir, "testidp", json!({}));
}

/// Writes `providers/{key}.json` under `dir`: an OAuth 2.0 app shaped as `testidp`, with
/// `scheme` (an object) merged into its OAUTH2 scheme.
pub fn write_oauth_app(dir: &Path, key: &str, scheme: Value) {
    let mut oauth2 = json!({"mode": "OAUTH2",
        "authorization_url": "http://127.0.0.1:9/auth", "token_url": "http://127.0.0.1:9/token",
        "default_scopes": ["openid"], "scope_separator": " ", "pkce": true, "token_auth": "client_secret_post"});
    for (k, v) in scheme.as_object().expect("an object") {
        oauth2[k] = v.clone();
    }
    std::fs::create_dir_all(dir.join("providers")).expect("providers dir");
    std::fs::write(
        dir.join(format!("providers/{key}.json")),
        json!({"apps": [{
            "key": key, "name": "Test IdP", "description": "token endpoint started by the tests",
            "categories": ["testing"], "base_url": "http://127.0.0.1:9/api",
            "whoami": {"method": "GET", "path": "/me"},
            "auth_schemes": [oauth2]
        }]})
        .to_string(),
    )
    .expect("provider file");
}

/// keyport started by `launch` in a fresh data dir that declares `testidp`.
pub fn server_with_testidp(launch: &Launch) -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    write_testidp(&dir);
    let mut server = launch.start_in(&dir).expect("keyport starts");
    server.keep(tmp);
    server
}

/// An OAUTH2 integration of `testidp` whose authorization server is at `base`
/// (`{base}/auth`, `{base}/token`), as client `c` with secret `s` unless `extra` (merged
/// into the config) says otherwise.
pub fn testidp_integration(server: &Server, base: &str, extra: Value) -> Value {
    let mut config = json!({
        "client_id": "c", "client_secret": "s",
        "authorization_url": format!("{base}/auth"), "token_url": format!("{base}/token")});
    for (k, v) in extra.as_object().expect("an object") {
        config[k] = v.clone();
    }
    server.integration(json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": config}))
}

/// The provider authorization URL behind a connect link (read from the page's link).
pub fn authorize_url(connect_url: &str) -> Option<String> {
    let html = agent()
        .get(connect_url)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let marker = "id=\"continue\" href=\"";
    let start = html.find(marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// keyport's `testidp` callback with `code` and the state of the flow behind
/// `connect_url`; the callback's status.
pub fn callback(base: &str, connect_url: &str, code: &str) -> Option<u16> {
    let state = query_param(&authorize_url(connect_url)?, "state")?;
    let answer = agent()
        .get(format!("{base}/callback/testidp"))
        .query("code", code)
        .query("state", &state)
        .call()
        .ok()?;
    Some(answer.status().as_u16())
}

/// Connects `entity` through the browser flow without a browser. Returns the ACTIVE
/// connection's id.
pub fn oauth_connection(server: &Server, integration: &Value, entity: &str, code: &str) -> String {
    let (status, id) = oauth_connection_try(&server.url, &server.admin, integration, entity, code)
        .unwrap_or_else(|| panic!("OAuth connection for {entity} failed"));
    assert_eq!(status, 200, "callback for {id}");
    id
}

/// The same, tolerating a server that dies midway (`None`); `Some((callback status, id))`.
pub fn oauth_connection_try(
    base: &str,
    admin: &str,
    integration: &Value,
    entity: &str,
    code: &str,
) -> Option<(u16, String)> {
    let created = agent()
        .post(format!("{base}/api/v1/connectedAccounts"))
        .header("x-api-key", admin)
        .send_json(json!({"integrationId": integration["id"], "userUuid": entity, "data": {}}))
        .ok()?
        .body_mut()
        .read_json::<Value>()
        .ok()?;
    let id = created["connectedAccountId"].as_str()?.to_string();
    let status = callback(base, created["redirectUrl"].as_str()?, code)?;
    Some((status, id))
}
