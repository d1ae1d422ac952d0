//! Secrets never reach the logs: keyport runs its main flows at `KEYPORT_LOG=trace` (every
//! crate's trace output, actix and the HTTP client included) with canary secrets, and its
//! stdout and stderr are searched for each canary raw, hex and base64.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::token_server::TokenServer;
use super::{testidp, value_str};
use crate::common::idp::{oauth_connection, write_testidp};
use crate::common::{Launch, Server, agent, call};

fn encodings(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        secret.to_string(),
        hex::encode(secret),
        hex::encode_upper(secret),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

/// Secrets handed to keyport (or issued to it) in this test, and the connections made.
#[derive(Default)]
struct Canaries {
    secrets: Vec<String>,
    ids: Vec<String>,
}

#[test]
fn canary_secrets_never_reach_the_logs_at_trace_level() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    write_testidp(&dir);
    let passphrase = "CANARYpassphrase-5d0c-e1";
    let stdout_path = tmp.path().join("stdout.txt");
    let mut cmd = Launch::default()
        .passphrase(passphrase)
        .log(Some("trace"))
        .env("RUST_BACKTRACE", "1")
        .serve(&dir);
    cmd.stdout(std::fs::File::create(&stdout_path).unwrap());
    let mut server = Server::spawn(&dir, cmd).expect("keyport starts at trace level");
    let mut seen = Canaries {
        secrets: vec![passphrase.to_string(), server.admin.clone()],
        ..Canaries::default()
    };
    let tokens = TokenServer::start("CANARYoauth");
    let (oauth, bearer) = connect_everything(&server, &tokens, &mut seen);
    read_everything(&server, &mut seen);
    refused_requests(&server, &oauth, &bearer, &mut seen);
    // A token endpoint that refuses: the refresh of a dead grant.
    tokens.ledger.lock().unwrap().families[0].revoked = true;
    std::thread::sleep(Duration::from_millis(1100));
    let oauth_id = seen.ids.last().unwrap().clone();
    let (status, _) = server.reveal(&oauth_id);
    assert_eq!(status, 409, "a dead grant expires the connection");
    // A connect page and a callback with a stale state and a code.
    let _ = agent()
        .get(format!(
            "{}/callback/testidp?code=CANARYauth-code-stale&state=CANARYstate-x",
            server.url
        ))
        .call();
    seen.secrets.push("CANARYauth-code-stale".into());
    seen.secrets.push("CANARYstate-x".into());
    server.stop();
    {
        let ledger = tokens.ledger.lock().unwrap();
        for family in &ledger.families {
            seen.secrets.extend(family.access_tokens.iter().cloned());
            seen.secrets.extend(family.refresh_tokens.iter().cloned());
        }
        assert!(
            ledger.refreshes >= 3,
            "the refresh path ran ({} refreshes)",
            ledger.refreshes
        );
    }
    let stderr = std::fs::read_to_string(dir.with_extension("log")).unwrap();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    scan(&format!("{stdout}\n{stderr}"), &seen);
}

/// Integrations holding client secrets, token-scheme connections, and an OAuth 2.0
/// connection (code exchange, then refreshes: its tokens expire in a second). Returns the
/// OAUTH2 and BEARER_TOKEN integrations.
fn connect_everything(
    server: &Server,
    tokens: &TokenServer,
    seen: &mut Canaries,
) -> (Value, Value) {
    let client_secret = "CANARYclient-secret-93ab";
    seen.secrets.push(client_secret.into());
    let oauth = testidp(server, tokens, client_secret);
    let [bearer, basic, api_key] = [
        ("github", "BEARER_TOKEN"),
        ("jira", "BASIC"),
        ("openai", "API_KEY"),
    ]
    .map(|(app, scheme)| server.integration(json!({"appName": app, "authScheme": scheme})));
    for (integration, data) in [
        (&bearer, json!({"token": "CANARYbearer-token-11f0"})),
        (
            &basic,
            json!({"username": "me@example.com", "password": "CANARYbasic-pw-2e77", "subdomain": "acme"}),
        ),
        (&api_key, json!({"api_key": "CANARYapi-key-6a5d"})),
    ] {
        for v in data.as_object().unwrap().values() {
            if v.as_str().unwrap().starts_with("CANARY") {
                seen.secrets.push(v.as_str().unwrap().to_string());
            }
        }
        let created = server.create_connection(
            json!({"integrationId": integration["id"], "userUuid": "alice", "data": data}),
        );
        seen.ids.push(value_str(&created, "connectedAccountId"));
    }
    let code = "CANARYauth-code-0c4f";
    seen.secrets.push(code.into());
    let oauth_id = oauth_connection(server, &oauth, "bob", code);
    seen.ids.push(oauth_id.clone());
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        let (status, body) = server.reveal(&oauth_id);
        assert_eq!(status, 200, "{body}");
    }
    (oauth, bearer)
}

/// Reveal and read everything; mint an API key.
fn read_everything(server: &Server, seen: &mut Canaries) {
    for id in &seen.ids {
        server.connection(id);
        server.ok(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            None,
        );
    }
    server.ok("GET", "/api/v1/connectedAccounts", None);
    server.ok("GET", "/api/v1/integrations", None);
    let key = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "agent", "permission": "use", "entityId": "alice"})),
    );
    seen.secrets.push(value_str(&key, "key"));
}

/// Errors that carry secrets in the request.
fn refused_requests(server: &Server, oauth: &Value, bearer: &Value, seen: &mut Canaries) {
    let wrong_key = "CANARYwrong-api-key-8d21";
    seen.secrets.push(wrong_key.into());
    let errors: Vec<(&str, String, Option<&str>, Option<Value>)> = vec![
        ("GET", "/api/v1/integrations".into(), Some(wrong_key), None),
        (
            "POST",
            "/api/v1/connectedAccounts".into(),
            Some(&server.admin),
            Some(
                json!({"integrationId": bearer["id"], "data": {"token": 42, "other": "CANARYbad-field-1"}}),
            ),
        ),
        (
            "POST",
            "/api/v1/connectedAccounts".into(),
            Some(&server.admin),
            Some(json!({"integrationId": "nope", "data": {"token": "CANARYbad-field-2"}})),
        ),
        (
            "POST",
            "/api/v1/integrations".into(),
            Some(&server.admin),
            Some(
                json!({"appName": "nosuchapp", "authScheme": "OAUTH2", "authConfig": {"client_secret": "CANARYbad-field-3"}}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/integrations/{}", value_str(oauth, "id")),
            Some(&server.admin),
            Some(json!({"authConfig": {"token_url": "ftp://CANARYbad-field-4"}})),
        ),
    ];
    seen.secrets
        .extend((1..=4).map(|i| format!("CANARYbad-field-{i}")));
    for (method, path, key, body) in errors {
        let (status, _) = call(&server.url, method, &path, key, body.as_ref());
        assert!((400..500).contains(&status), "{method} {path} -> {status}");
    }
}

/// No canary in `text`, raw or encoded; and the scan is not blind.
fn scan(text: &str, seen: &Canaries) {
    let lines = text.lines().count();
    let mut hits = Vec::new();
    for canary in &seen.secrets {
        for needle in encodings(canary) {
            if let Some(line) = text.lines().find(|l| l.contains(&needle)) {
                hits.push(format!("{canary} as {needle}: {line}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets in the logs: {hits:#?}");
    // The scan is not blind: trace output was captured and names what happened.
    assert!(lines > 200, "only {lines} log lines at trace level");
    for id in &seen.ids {
        assert!(text.contains(id.as_str()), "the log never mentions {id}");
    }
    println!(
        "{lines} log lines scanned at KEYPORT_LOG=trace (stdout + stderr): {} canaries x {} encodings, 0 hits",
        seen.secrets.len(),
        encodings("x").len()
    );
}

/// The access log is written off the request path; a clean SIGTERM still leaves every
/// request's line on file, the last ones included.
#[test]
fn every_request_is_in_the_access_log_after_a_clean_sigterm() {
    let mut server = Server::start();
    let marker = "/api/v1/connectedAccounts/00000000-0000-4000-8000-00000000c0de";
    let n = 500;
    for _ in 0..n {
        let (status, _) = call(&server.url, "GET", "/healthz", None, None);
        assert_eq!(status, 200);
    }
    let (status, _) = call(&server.url, "GET", marker, Some(&server.admin), None);
    assert_eq!(status, 404);
    server.stop();
    let log = server.log();
    let lines = |path: &str| {
        log.lines()
            .filter(|l| l.contains(" request ") && l.contains(&format!("path={path} ")))
            .count()
    };
    // Readiness polls hit /healthz too, hence at least n.
    assert!(lines("/healthz") >= n, "{} of {n} lines", lines("/healthz"));
    assert_eq!(lines(marker), 1, "the last request's line is missing");
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("path={marker} status=404"))),
        "the line names method, path and status"
    );
}
