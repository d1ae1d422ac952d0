//! The authorization-code flow with a real authorization server and a real browser.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{idp, oauth_integration, start_connection, state_of};
use crate::common::idp::{authorize_url, query_param, server_with_testidp};
use crate::common::peers::{OidcProvider, drive};
use crate::common::{Launch, Server, agent, error_message, keyport, succeeded};

/// keyport with `testidp`, the oidc-provider (access tokens living `access_ttl` seconds),
/// and an integration of it with the provider's URLs and `extra` configuration.
fn setup(access_ttl: u32, extra: Value) -> (Server, OidcProvider, String) {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, access_ttl);
    let integration = oauth_integration(&server, &idp, extra);
    (server, idp, integration)
}

fn reason(connection: &Value) -> &str {
    connection["statusReason"].as_str().unwrap()
}

#[test]
fn authorization_code_with_pkce_refresh_rotation_and_revocation() {
    // Tokens live 6 s; keyport refreshes when less than half a short lifetime is left.
    let (server, idp, integration) = setup(6, json!({}));
    let shown = server.ok("GET", &format!("/api/v1/integrations/{integration}"), None);
    assert_eq!(
        shown["callbackUrl"],
        format!("{}/callback/testidp", server.url)
    );
    assert_eq!(shown["authConfig"]["client_secret"], "********");

    let (id, url) = start_connection(&server, &integration, "alice", None);
    check_connect_page(&server, &url);
    let final_url = consent(&server, &idp, &id, &url);
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

    let server = Arc::new(server);
    one_refresh_for_100_concurrent_reads(&server, &idp, &id);

    // Delete: the provider records the revocation; the local delete happens regardless.
    server.ok("DELETE", &format!("/api/v1/connectedAccounts/{id}"), None);
    let stats = idp.stats();
    assert_eq!(stats["revocation"], 1, "{stats}");
    assert_eq!(stats["revoked_tokens"][0], "refresh_token");
    assert_eq!(server.connection(&id)["status"], "DELETED");
    // The audit log tells the connection's life: created, ACTIVE, refreshed, revoked, DELETED.
    let audit = server.ok(
        "GET",
        &format!("/api/v1/audit?connectionId={id}&limit=1000"),
        None,
    );
    let life: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"].as_str().unwrap().starts_with("connection."))
        .map(|r| {
            (
                r["event"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |event: &str, outcome: &str| life.contains(&(event.into(), outcome.into()));
    assert!(has("connection.created", "INITIATED"), "{life:?}");
    assert!(has("connection.status", "ACTIVE"), "{life:?}");
    assert!(has("connection.refreshed", "ok"), "{life:?}");
    assert!(has("connection.revoked", "ok"), "{life:?}");
    assert_eq!(
        life.last(),
        Some(&("connection.status".into(), "DELETED".into())),
        "{life:?}"
    );
}

/// The connect page's headers, and the PKCE, state and redirect of its authorization URL.
fn check_connect_page(server: &Server, url: &str) {
    let page = agent().get(url).call().unwrap();
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
    let auth = authorize_url(url).expect("continue link");
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
}

/// Chromium consents; the connection becomes ACTIVE. Returns the callback URL it landed on.
fn consent(server: &Server, idp: &OidcProvider, id: &str, url: &str) -> String {
    let landed = drive(url, &["--expect-text", "Connected"]);
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
    final_url
}

/// 100 concurrent reads of an expired token: one refresh, one shared new token, and the
/// rotated refresh token kept.
fn one_refresh_for_100_concurrent_reads(server: &Arc<Server>, idp: &OidcProvider, id: &str) {
    let (_, first) = server.reveal(id);
    std::thread::sleep(Duration::from_secs(7));
    let old_refresh = first["credentials"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refreshes_before = idp.token_calls("refresh_token");
    let tokens: Vec<String> = (0..100)
        .map(|_| {
            let (server, id) = (Arc::clone(server), id.to_string());
            std::thread::spawn(move || {
                let (status, body) = server.reveal(&id);
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
    let (_, after) = server.reveal(id);
    let rotated = after["credentials"]["refresh_token"].as_str().unwrap();
    assert_ne!(
        rotated, old_refresh,
        "the refresh token rotated and the new one was kept"
    );
    println!(
        "100 concurrent reads: {} refresh call(s), 1 distinct token",
        idp.token_calls("refresh_token") - refreshes_before
    );
}

#[test]
fn a_dead_refresh_token_expires_the_connection() {
    let (server, idp, integration) = setup(2, json!({}));
    let (id, url) = start_connection(&server, &integration, "bob", None);
    drive(&url, &["--expect-text", "Connected"]);
    idp.post("/__revoke_all");
    std::thread::sleep(Duration::from_secs(3));
    let (status, body) = server.reveal(&id);
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains("reconnect"), "{body}");
    let connection = server.connection(&id);
    assert_eq!(connection["status"], "EXPIRED");
    assert!(
        reason(&connection).contains("invalid_grant"),
        "{connection}"
    );
    // Further uses do not hammer the provider.
    let calls = idp.token_calls("refresh_token");
    for _ in 0..5 {
        assert_eq!(server.reveal(&id).0, 409);
    }
    assert_eq!(idp.token_calls("refresh_token"), calls);
}

#[test]
fn provider_refusal_state_tricks_and_foreign_redirects_are_rejected() {
    let (server, idp, integration) = setup(3600, json!({}));

    // The user says no at the provider: FAILED, with the reason on the page.
    let (denied, url) = start_connection(&server, &integration, "carol", None);
    let page = drive(&url, &["--deny"]);
    assert!(
        page["text"].as_str().unwrap().contains("access_denied"),
        "{page}"
    );
    let failed = server.connection(&denied);
    assert_eq!(failed["status"], "FAILED");
    assert!(reason(&failed).contains("access_denied"));
    let moves = server.moves_of(&denied);
    assert_eq!(
        moves.iter().map(|m| (&m.0, &m.1)).collect::<Vec<_>>(),
        [
            (&Value::Null, &json!("INITIATED")),
            (&json!("INITIATED"), &json!("FAILED"))
        ],
        "{moves:?}"
    );
    assert!(
        moves[1].2.as_str().unwrap().contains("access_denied"),
        "{moves:?}"
    );

    state_tricks_are_refused(&server, &idp, &integration);
    redirect_uris_are_checked(&server, &integration);
}

/// Missing, wrong, foreign-path state and a wrong issuer: refused, nothing sent to the
/// token endpoint.
fn state_tricks_are_refused(server: &Server, idp: &OidcProvider, integration: &str) {
    let (pending, url) = start_connection(server, integration, "carol", None);
    let state = state_of(&url);
    let calls = idp.token_calls("authorization_code");
    let callback = |path_and_query: String| {
        agent()
            .get(format!("{}{path_and_query}", server.url))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    for query in [
        "code=abc".to_string(),
        "code=abc&state=not-the-state".to_string(),
        format!("code=abc&state={state}x"),
    ] {
        assert_eq!(
            callback(format!("/callback/testidp?{query}")),
            400,
            "{query}"
        );
    }
    assert_eq!(
        server.connection(&pending)["status"],
        "INITIATED",
        "bad attempts do not touch the flow"
    );
    // The right state at another provider's callback path (mix-up): refused, flow closed.
    let status = callback(format!("/callback/github?code=abc&state={state}"));
    assert_eq!(status, 400);
    assert_eq!(server.connection(&pending)["status"], "FAILED");
    // A wrong issuer: refused.
    let (mixed, url) = start_connection(server, integration, "carol", None);
    let state = state_of(&url);
    let status = callback(format!(
        "/callback/testidp?code=abc&state={state}&iss=https://evil.example"
    ));
    assert_eq!(status, 400);
    let connection = server.connection(&mixed);
    assert!(reason(&connection).contains("iss"), "{connection}");
    assert_eq!(
        idp.token_calls("authorization_code"),
        calls,
        "no token request for any refused callback"
    );
}

/// Foreign redirect URLs are refused up front; loopback ones are honoured.
fn redirect_uris_are_checked(server: &Server, integration: &str) {
    let (status, body) = server.as_admin(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": integration, "data": {}, "redirectUri": "https://evil.example/landing"})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("redirectUri"));
    let back = format!("{}/healthz", server.url);
    let (id, url) = start_connection(server, integration, "dave", Some(&back));
    let landed = drive(&url, &[]);
    let final_url = landed["finalUrl"].as_str().unwrap();
    assert!(
        final_url.starts_with(&back) && final_url.contains(&format!("connectedAccountId={id}")),
        "{landed}"
    );
}

#[test]
fn client_credentials_integrations_hold_a_machine_token() {
    let (server, idp, integration) = setup(
        3600,
        json!({"grant_type": "client_credentials", "scopes": "api:read"}),
    );
    let created = server.create_connection(json!({"integrationId": integration, "data": {}}));
    assert_eq!(created["connectionStatus"], "ACTIVE", "{created}");
    assert_eq!(idp.token_calls("client_credentials"), 1);
    let (status, body) = server.reveal(created["connectedAccountId"].as_str().unwrap());
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

#[test]
fn keyport_connect_prints_the_link_and_waits_until_active() {
    let (server, _idp, _) = setup(3600, json!({}));
    let mut child = keyport(&server.dir)
        .args(["--json", "connect", "testidp", "--entity", "zed"])
        .args(["--no-browser", "--timeout", "60"])
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
    succeeded(&out);
    let connection: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(connection["status"], "ACTIVE");
    assert_eq!(connection["entityId"], "zed");
}
