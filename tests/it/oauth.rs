//! OAuth 2.0 end to end against a real authorization server (panva's oidc-provider, from
//! npm, started here on 127.0.0.1) and a real browser (Debian's Chromium driven by
//! playwright-core): authorization code + PKCE, refresh with rotation under contention,
//! dead grants, state and redirect checks, revocation, client credentials.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Server, agent, read_request};

const CLIENT_ID: &str = "keyport-it";
const CLIENT_SECRET: &str = "keyport-it-secret-9f2c";

fn peers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/oidc")
}

/// A running oidc-provider.
struct Idp {
    child: Child,
    issuer: String,
}

impl Idp {
    fn start(redirect_uri: &str, access_ttl: u32) -> Idp {
        let dir = peers();
        assert!(
            dir.join("node_modules").exists(),
            "run tests/run.sh (it installs the npm peers) first"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.js"))
            .args([
                "--port",
                "0",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--redirect-uri",
                redirect_uri,
            ])
            .args(["--access-ttl", &access_ttl.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the oidc-provider peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("peer said {line:?}: {e}"));
        Idp {
            child,
            issuer: info["issuer"].as_str().unwrap().to_string(),
        }
    }

    fn stats(&self) -> Value {
        agent()
            .get(format!("{}/__stats", self.issuer))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    }

    fn post(&self, path: &str) {
        let status = agent()
            .post(format!("{}{path}", self.issuer))
            .send_empty()
            .unwrap()
            .status();
        assert!(status.is_success(), "{path}: {status}");
    }

    fn token_calls(&self, grant: &str) -> u64 {
        self.stats()["token"][grant].as_u64().unwrap_or(0)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Drives Chromium through the flow; returns drive.js's JSON line.
fn drive(url: &str, extra: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(peers().join("drive.js"))
        .arg(url)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "drive.js failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap()
}

fn oauth_integration(server: &Server, idp: &Idp, extra: Value) -> String {
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
    let integration = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": config})),
    );
    integration["id"].as_str().unwrap().to_string()
}

/// keyport with a user provider file declaring the `testidp` app (its URLs are overridden
/// per integration, since the IdP's port is only known once it runs).
pub(crate) fn server_with_testidp() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::write(
        dir.join("providers/testidp.json"),
        json!({"apps": [{
            "key": "testidp", "name": "Test IdP", "description": "oidc-provider started by the tests",
            "categories": ["testing"], "base_url": "http://127.0.0.1:9/api",
            "auth_schemes": [{"mode": "OAUTH2",
                "authorization_url": "http://127.0.0.1:9/auth", "token_url": "http://127.0.0.1:9/token",
                "default_scopes": ["openid"], "scope_separator": " ", "pkce": true, "token_auth": "client_secret_post"}]
        }]})
        .to_string(),
    )
    .unwrap();
    let mut server = Server::start_in(&dir, crate::common::PASSPHRASE).expect("keyport starts");
    server.keep(tmp);
    server
}

fn start_connection(
    server: &Server,
    integration: &str,
    entity: &str,
    redirect: Option<&str>,
) -> (String, String) {
    let created = server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": integration, "userUuid": entity, "data": {}, "labels": [], "redirectUri": redirect})),
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

fn reveal(server: &Server, id: &str) -> (u16, Value) {
    server.call(
        "GET",
        &format!("/api/v1/connectedAccounts/{id}/credentials"),
        Some(&server.admin),
        None,
    )
}

/// The provider authorization URL behind a connect link (read from the page's link).
fn authorize_url(connect_url: &str) -> String {
    let html = agent()
        .get(connect_url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let start = html.find("id=\"continue\" href=\"").expect("continue link")
        + "id=\"continue\" href=\"".len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn authorization_code_with_pkce_refresh_rotation_and_revocation() {
    let server = server_with_testidp();
    // Tokens live 6 s; keyport refreshes when less than half a short lifetime is left.
    let idp = Idp::start(&format!("{}/callback/testidp", server.url), 6);
    let integration = oauth_integration(&server, &idp, json!({}));
    let shown = server.ok("GET", &format!("/api/v1/integrations/{integration}"), None);
    assert_eq!(
        shown["callbackUrl"],
        format!("{}/callback/testidp", server.url)
    );
    assert_eq!(shown["authConfig"]["client_secret"], "********");

    let (id, url) = start_connection(&server, &integration, "alice", None);
    let page = agent().get(&url).call().unwrap();
    assert_eq!(
        page.headers().get("referrer-policy").unwrap(),
        "no-referrer"
    );
    assert!(
        page.headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let auth = authorize_url(&url);
    assert_eq!(
        query_param(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(
        query_param(&auth, "state").unwrap().len() >= 22,
        "state carries at least 128 bits"
    );
    assert_eq!(
        query_param(&auth, "redirect_uri").unwrap(),
        format!("{}/callback/testidp", server.url)
    );

    let landed = drive(&url, &["--expect-text", "Connected"]);
    let final_url = landed["finalUrl"].as_str().unwrap().to_string();
    assert!(
        final_url.starts_with(&format!("{}/callback/testidp?", server.url)),
        "{landed}"
    );
    let code = query_param(&final_url, "code").unwrap();
    assert!(
        !landed["text"].as_str().unwrap().contains(&code),
        "the page must not echo the code"
    );
    let waited = server.ok(
        "GET",
        &format!("/api/v1/connectedAccounts/{id}/wait?timeout=5"),
        None,
    );
    assert_eq!(waited["status"], "ACTIVE", "{waited}");
    assert_eq!(waited["connectionParams"]["access_token"], "********");
    assert_eq!(idp.token_calls("authorization_code"), 1);
    let auth_log: Vec<Value> = idp.stats()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "authorization" || r["path"] == "/auth")
        .cloned()
        .collect();
    assert!(
        auth_log
            .iter()
            .all(|r| r["code_challenge_method"].is_null() || r["code_challenge_method"] == "S256"),
        "{auth_log:?}"
    );

    // Replaying the callback (same code and state) is refused without a token request.
    let before = idp.token_calls("authorization_code");
    let mut replay = agent().get(&final_url).call().unwrap();
    assert_eq!(replay.status().as_u16(), 400);
    assert!(
        replay
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(idp.token_calls("authorization_code"), before);

    // 100 concurrent reads of an expired token: one refresh, one shared new token.
    let (_, first) = reveal(&server, &id);
    std::thread::sleep(Duration::from_secs(7));
    let old_refresh = first["credentials"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refreshes_before = idp.token_calls("refresh_token");
    let server = Arc::new(server);
    let tokens: Vec<String> = (0..100)
        .map(|_| {
            let (server, id) = (Arc::clone(&server), id.clone());
            std::thread::spawn(move || {
                let (status, body) = reveal(&server, &id);
                assert_eq!(status, 200, "{body}");
                body["credentials"]["access_token"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        idp.token_calls("refresh_token") - refreshes_before,
        1,
        "exactly one refresh for 100 concurrent reads"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all 100 callers got the same token"
    );
    assert_ne!(
        tokens[0],
        first["credentials"]["access_token"].as_str().unwrap()
    );
    let (_, after) = reveal(&server, &id);
    let rotated = after["credentials"]["refresh_token"].as_str().unwrap();
    assert_ne!(
        rotated, old_refresh,
        "the refresh token rotated and the new one was kept"
    );
    println!(
        "100 concurrent reads: {} refresh call(s), 1 distinct token",
        idp.token_calls("refresh_token") - refreshes_before
    );

    // Delete: the provider records the revocation; the local delete happens regardless.
    server.ok("DELETE", &format!("/api/v1/connectedAccounts/{id}"), None);
    let stats = idp.stats();
    assert_eq!(stats["revocation"], 1, "{stats}");
    assert_eq!(stats["revoked_tokens"][0], "refresh_token");
    assert_eq!(
        server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None)["status"],
        "DELETED"
    );
}

#[test]
fn a_dead_refresh_token_expires_the_connection() {
    let server = server_with_testidp();
    let idp = Idp::start(&format!("{}/callback/testidp", server.url), 2);
    let integration = oauth_integration(&server, &idp, json!({}));
    let (id, url) = start_connection(&server, &integration, "bob", None);
    drive(&url, &["--expect-text", "Connected"]);
    idp.post("/__revoke_all");
    std::thread::sleep(Duration::from_secs(3));
    let (status, body) = reveal(&server, &id);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect"),
        "{body}"
    );
    let connection = server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None);
    assert_eq!(connection["status"], "EXPIRED");
    assert!(
        connection["statusReason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{connection}"
    );
    // Further uses do not hammer the provider.
    let calls = idp.token_calls("refresh_token");
    for _ in 0..5 {
        assert_eq!(reveal(&server, &id).0, 409);
    }
    assert_eq!(idp.token_calls("refresh_token"), calls);
}

#[test]
fn provider_refusal_state_tricks_and_foreign_redirects_are_rejected() {
    let server = server_with_testidp();
    let idp = Idp::start(&format!("{}/callback/testidp", server.url), 3600);
    let integration = oauth_integration(&server, &idp, json!({}));

    // The user says no at the provider: FAILED, with the reason on the page.
    let (denied, url) = start_connection(&server, &integration, "carol", None);
    let page = drive(&url, &["--deny"]);
    assert!(
        page["text"].as_str().unwrap().contains("access_denied"),
        "{page}"
    );
    let failed = server.ok("GET", &format!("/api/v1/connectedAccounts/{denied}"), None);
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["statusReason"]
            .as_str()
            .unwrap()
            .contains("access_denied")
    );

    // Missing, wrong and foreign-path state: refused, nothing sent to the token endpoint.
    let (pending, url) = start_connection(&server, &integration, "carol", None);
    let state = query_param(&authorize_url(&url), "state").unwrap();
    let calls = idp.token_calls("authorization_code");
    for query in [
        "code=abc".to_string(),
        "code=abc&state=not-the-state".to_string(),
        format!("code=abc&state={state}x"),
    ] {
        let response = agent()
            .get(format!("{}/callback/testidp?{query}", server.url))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{query}");
    }
    assert_eq!(
        server.ok("GET", &format!("/api/v1/connectedAccounts/{pending}"), None)["status"],
        "INITIATED",
        "bad attempts do not touch the flow"
    );
    // The right state at another provider's callback path (mix-up): refused, flow closed.
    let response = agent()
        .get(format!(
            "{}/callback/github?code=abc&state={state}",
            server.url
        ))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        server.ok("GET", &format!("/api/v1/connectedAccounts/{pending}"), None)["status"],
        "FAILED"
    );
    // A wrong issuer: refused.
    let (mixed, url) = start_connection(&server, &integration, "carol", None);
    let state = query_param(&authorize_url(&url), "state").unwrap();
    let response = agent()
        .get(format!(
            "{}/callback/testidp?code=abc&state={state}&iss=https://evil.example",
            server.url
        ))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let connection = server.ok("GET", &format!("/api/v1/connectedAccounts/{mixed}"), None);
    assert!(
        connection["statusReason"].as_str().unwrap().contains("iss"),
        "{connection}"
    );
    assert_eq!(
        idp.token_calls("authorization_code"),
        calls,
        "no token request for any refused callback"
    );

    // Foreign redirect URLs are refused up front; loopback ones are honoured.
    let (status, body) = server.call(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&server.admin),
        Some(&json!({"integrationId": integration, "data": {}, "redirectUri": "https://evil.example/landing"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redirectUri")
    );
    let back = format!("{}/healthz", server.url);
    let (id, url) = start_connection(&server, &integration, "dave", Some(&back));
    let landed = drive(&url, &[]);
    let final_url = landed["finalUrl"].as_str().unwrap();
    assert!(
        final_url.starts_with(&back) && final_url.contains(&format!("connectedAccountId={id}")),
        "{landed}"
    );
}

#[test]
fn client_credentials_integrations_hold_a_machine_token() {
    let server = server_with_testidp();
    let idp = Idp::start(&format!("{}/callback/testidp", server.url), 3600);
    let integration = oauth_integration(
        &server,
        &idp,
        json!({"grant_type": "client_credentials", "scopes": "api:read"}),
    );
    let created = server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": integration, "data": {}})),
    );
    assert_eq!(created["connectionStatus"], "ACTIVE", "{created}");
    assert_eq!(idp.token_calls("client_credentials"), 1);
    let (status, body) = reveal(&server, created["connectedAccountId"].as_str().unwrap());
    assert_eq!(status, 200, "{body}");
    assert!(
        body["credentials"]["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(
        idp.token_calls("client_credentials"),
        1,
        "a valid machine token is reused"
    );
}

/// A token endpoint that misbehaves in a chosen way, and a sentinel that counts requests.
fn misbehaving_token_endpoint(answer: &'static str, sentinel_port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(8) {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            read_request(&mut stream);
            let response = match answer {
                "html" => "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\n\r\n<html></html>".to_string(),
                "no-token" => {
                    let body = r#"{"token_type":"bearer","expires_in":3600}"#;
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                }
                "huge" => {
                    let body = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(2 * 1024 * 1024));
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                }
                _ => format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{sentinel_port}/steal\r\ncontent-length: 0\r\n\r\n"),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn unusable_token_responses_fail_the_connection_clearly() {
    let server = server_with_testidp();
    let sentinel = TcpListener::bind("127.0.0.1:0").unwrap();
    let sentinel_port = sentinel.local_addr().unwrap().port();
    sentinel.set_nonblocking(true).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    for (answer, expect) in [
        ("html", "JSON"),
        ("no-token", "access_token"),
        ("huge", "larger than"),
        ("redirect", "302"),
    ] {
        let port = misbehaving_token_endpoint(answer, sentinel_port);
        let integration = server.ok(
            "POST",
            "/api/v1/integrations",
            Some(
                &json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": {
                "client_id": "c", "client_secret": "s",
                "authorization_url": format!("http://127.0.0.1:{port}/auth"),
                "token_url": format!("http://127.0.0.1:{port}/token")}}),
            ),
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (id, url) = start_connection(&server, &integration, "erin", None);
        let state = query_param(&authorize_url(&url), "state").unwrap();
        let mut page = agent()
            .get(format!(
                "{}/callback/testidp?code=abc&state={state}",
                server.url
            ))
            .call()
            .unwrap();
        assert_eq!(page.status().as_u16(), 400, "{answer}");
        let text = page.body_mut().read_to_string().unwrap();
        assert!(
            !text.contains("aaaaaaaa"),
            "{answer}: the page must not echo the response"
        );
        let connection = server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None);
        assert_eq!(connection["status"], "FAILED", "{answer}");
        let reason = connection["statusReason"].as_str().unwrap();
        assert!(reason.contains(expect), "{answer}: {reason}");
    }
    if sentinel.accept().is_ok() {
        hits.fetch_add(1, Ordering::SeqCst);
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect target must receive nothing"
    );
}

/// A token endpoint that answers the n-th request with `bodies[n]` (JSON, 200) and every
/// later one with 503; counts requests.
pub(crate) fn scripted_token_endpoint(bodies: Vec<&'static str>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().take(50) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            read_request(&mut stream);
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let response = match bodies.get(n) {
                Some(body) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_string(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, count)
}

/// The first answer issues tokens that expire in a second; every later one is a 503.
fn flaky_token_endpoint() -> (u16, Arc<AtomicUsize>) {
    scripted_token_endpoint(vec![
        r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":"1"}"#,
    ])
}

/// An OAUTH2 integration on `testidp` whose token URL is a local scripted endpoint, and an
/// ACTIVE connection completed through the callback (no browser needed).
pub(crate) fn scripted_connection(
    server: &Server,
    token_port: u16,
    base_url: Option<String>,
) -> String {
    let mut config = json!({
        "client_id": "c", "client_secret": "s",
        "authorization_url": format!("http://127.0.0.1:{token_port}/auth"),
        "token_url": format!("http://127.0.0.1:{token_port}/token")});
    if let Some(base) = base_url {
        config["base_url"] = json!(base);
    }
    let integration = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": config})),
    );
    let (id, url) = start_connection(server, integration["id"].as_str().unwrap(), "frank", None);
    let state = query_param(&authorize_url(&url), "state").unwrap();
    let page = agent()
        .get(format!(
            "{}/callback/testidp?code=abc&state={state}",
            server.url
        ))
        .call()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    id
}

/// An API stand-in that answers 401 to `Bearer at-1` and 200 to anything else; counts
/// requests.
fn api_refusing_first_token() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().take(20) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let text = read_request(&mut stream);
            seen.fetch_add(1, Ordering::SeqCst);
            let body = if text.contains("authorization: bearer at-1") {
                None
            } else {
                Some(r#"{"login":"octocat"}"#)
            };
            let response = match body {
                None => {
                    "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                }
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{b}",
                    b.len()
                ),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, count)
}

#[test]
fn a_token_without_expiry_is_used_until_a_401_then_refreshed_once_and_retried_once() {
    let server = server_with_testidp();
    let (token_port, token_calls) = scripted_token_endpoint(vec![
        r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer"}"#,
        r#"{"access_token":"at-2","token_type":"Bearer"}"#,
    ]);
    let (api_port, api_calls) = api_refusing_first_token();
    let id = scripted_connection(
        &server,
        token_port,
        Some(format!("http://127.0.0.1:{api_port}")),
    );
    assert_eq!(token_calls.load(Ordering::SeqCst), 1);
    let answer = server.ok(
        "POST",
        "/api/v2/actions/proxy",
        Some(&json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"})),
    );
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["data"]["login"], "octocat");
    assert_eq!(
        token_calls.load(Ordering::SeqCst),
        2,
        "exactly one refresh after the 401"
    );
    assert_eq!(api_calls.load(Ordering::SeqCst), 2, "exactly one retry");
    // The refresh answer had no refresh_token: the old one is kept.
    let (_, creds) = reveal(&server, &id);
    assert_eq!(creds["credentials"]["refresh_token"], "rt-1");
    assert_eq!(creds["credentials"]["access_token"], "at-2");
    // The new token has no expiry either: used again without a refresh.
    let again = server.ok(
        "POST",
        "/api/v2/actions/proxy",
        Some(&json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"})),
    );
    assert_eq!(again["status"], 200);
    assert_eq!(token_calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_failing_token_endpoint_backs_off_and_leaves_the_connection_active() {
    let server = server_with_testidp();
    let (port, count) = flaky_token_endpoint();
    let id = scripted_connection(&server, port, None);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = reveal(&server, &id);
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "one exchange, one refresh attempt"
    );
    for _ in 0..10 {
        let (status, body) = reveal(&server, &id);
        assert_eq!(status, 502);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("retries in"),
            "{body}"
        );
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "no retry storm while backing off"
    );
    assert_eq!(
        server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None)["status"],
        "ACTIVE"
    );
}

#[test]
fn an_expired_state_is_refused_and_the_connection_fails() {
    use keyport::clock::Clock;
    use keyport::providers::Catalog;
    use keyport::service::{CallbackQuery, CreateConnection, CreateIntegration, Service};
    use keyport::store::Store;
    use keyport::vault::{KdfParams, Vault};
    use secrecy::ExposeSecret;

    let tmp = tempfile::tempdir().unwrap();
    let providers = tmp.path().join("providers");
    std::fs::create_dir_all(&providers).unwrap();
    let (port, count) = flaky_token_endpoint();
    std::fs::write(
        providers.join("idp.json"),
        json!({"apps": [{"key": "testidp", "name": "Test IdP", "description": "d", "categories": ["testing"],
            "base_url": "http://127.0.0.1:9/api",
            "auth_schemes": [{"mode": "OAUTH2", "authorization_url": format!("http://127.0.0.1:{port}/auth"),
                "token_url": format!("http://127.0.0.1:{port}/token"), "default_scopes": [], "scope_separator": " ",
                "pkce": true, "token_auth": "client_secret_post"}]}]})
        .to_string(),
    )
    .unwrap();
    let (vault, record) = Vault::create(&"pass".to_string().into(), KdfParams::FLOOR).unwrap();
    let store = Store::create(
        &tmp.path().join("k.db"),
        &record,
        "2026-01-01T00:00:00.000Z",
    )
    .unwrap();
    let (catalog, problems) = Catalog::load(&providers);
    assert!(problems.is_empty(), "{problems:?}");
    let clock = Clock::system();
    let svc = Service::new(
        store,
        vault,
        catalog,
        clock.clone(),
        "http://127.0.0.1:1".into(),
        &keyport::config::Config::default(),
    )
    .unwrap();
    let key = svc.ensure_admin_key(None).unwrap().unwrap();
    let caller = svc.authenticate(key.expose_secret()).unwrap();
    let mut config = serde_json::Map::new();
    config.insert("client_id".into(), json!("c"));
    config.insert("client_secret".into(), json!("s"));
    let integration = svc
        .create_integration(
            &caller,
            CreateIntegration {
                app: "testidp".into(),
                auth_config: config,
                ..Default::default()
            },
        )
        .unwrap();
    let start = || {
        let created = svc
            .create_connection(
                &caller,
                CreateConnection {
                    integration_id: integration.integration.id,
                    ..Default::default()
                },
            )
            .unwrap();
        let token = created
            .redirect_url
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let page = svc.connect_page(&token).unwrap();
        (
            created.id,
            query_param(&page.authorize_url, "state").unwrap(),
        )
    };
    let (swept, _) = start();
    let (late, late_state) = start();
    clock.advance(Duration::from_secs(11 * 60));

    // Swept on read: FAILED with the reason.
    let view = svc.get_connection(&caller, swept).unwrap();
    assert_eq!(view.connection.status.as_str(), "FAILED");
    assert!(
        view.connection
            .status_reason
            .unwrap()
            .contains("10 minutes")
    );
    // A callback with the expired state: refused, no token request.
    let outcome = svc.oauth_callback(
        "testidp",
        CallbackQuery {
            code: Some("c".into()),
            state: Some(late_state),
            ..Default::default()
        },
    );
    assert!(!outcome.success, "{outcome:?}");
    assert_eq!(
        svc.get_connection(&caller, late)
            .unwrap()
            .connection
            .status
            .as_str(),
        "FAILED"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "no token request for an expired state"
    );
}

#[test]
fn keyport_connect_prints_the_link_and_waits_until_active() {
    let server = server_with_testidp();
    let idp = Idp::start(&format!("{}/callback/testidp", server.url), 3600);
    oauth_integration(&server, &idp, json!({}));
    let mut child = crate::common::keyport(&server.dir)
        .args([
            "--json",
            "connect",
            "testidp",
            "--entity",
            "zed",
            "--no-browser",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut link = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            link = Some(url.to_string());
            break;
        }
        line.clear();
    }
    let link = link.expect("keyport connect prints the link");
    drive(&link, &["--expect-text", "Connected"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let connection: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(connection["status"], "ACTIVE");
    assert_eq!(connection["entityId"], "zed");
}
