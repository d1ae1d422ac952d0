//! Secrets never reach the logs: keyport runs its main flows at `KEYPORT_LOG=trace` (every
//! crate's trace output, actix and the HTTP client included) with canary secrets, and its
//! stdout and stderr are searched for each canary raw, hex and base64.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::token_server::TokenServer;
use super::{testidp, value_str};
use crate::common::idp::{oauth_connection, write_testidp};
use crate::common::{Server, agent, call, keyport};

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

#[test]
fn canary_secrets_never_reach_the_logs_at_trace_level() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    write_testidp(&dir);
    let passphrase = "CANARYpassphrase-5d0c-e1";
    let stdout_path = tmp.path().join("stdout.txt");
    let mut cmd = keyport(&dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEYPORT_PASSPHRASE", passphrase)
        .env("KEYPORT_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(dir.with_extension("log")).unwrap());
    let mut server = Server::spawn(&dir, cmd).expect("keyport starts at trace level");
    let mut canaries = vec![passphrase.to_string(), server.admin.clone()];
    let tokens = TokenServer::start("CANARYoauth");

    // Integrations holding client secrets.
    let client_secret = "CANARYclient-secret-93ab";
    canaries.push(client_secret.into());
    let oauth = testidp(&server, &tokens, client_secret);
    let bearer = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN"})),
    );
    let basic = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "jira", "authScheme": "BASIC"})),
    );
    let api_key = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "openai", "authScheme": "API_KEY"})),
    );

    // Token-scheme connections.
    let mut ids = Vec::new();
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
                canaries.push(v.as_str().unwrap().to_string());
            }
        }
        let created = server.ok(
            "POST",
            "/api/v1/connectedAccounts",
            Some(&json!({"integrationId": integration["id"], "userUuid": "alice", "data": data})),
        );
        ids.push(value_str(&created, "connectedAccountId"));
    }

    // OAuth 2.0: code exchange, then refreshes (tokens expire in a second).
    let code = "CANARYauth-code-0c4f";
    canaries.push(code.into());
    let oauth_id = oauth_connection(&server, &oauth, "bob", code);
    ids.push(oauth_id.clone());
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        let (status, body) = call(
            &server.url,
            "GET",
            &format!("/api/v1/connectedAccounts/{oauth_id}/credentials"),
            Some(&server.admin),
            None,
        );
        assert_eq!(status, 200, "{body}");
    }

    // Reveal and read everything; mint API keys.
    for id in &ids {
        server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None);
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
    canaries.push(value_str(&key, "key"));

    // Errors that carry secrets in the request.
    let wrong_key = "CANARYwrong-api-key-8d21";
    canaries.push(wrong_key.into());
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
            format!("/api/v1/integrations/{}", value_str(&oauth, "id")),
            Some(&server.admin),
            Some(json!({"authConfig": {"token_url": "ftp://CANARYbad-field-4"}})),
        ),
    ];
    canaries.extend((1..=4).map(|i| format!("CANARYbad-field-{i}")));
    for (method, path, key, body) in errors {
        let (status, _) = call(&server.url, method, &path, key, body.as_ref());
        assert!((400..500).contains(&status), "{method} {path} -> {status}");
    }
    // A token endpoint that refuses: the refresh of a dead grant.
    tokens.ledger.lock().unwrap().families[0].revoked = true;
    std::thread::sleep(Duration::from_millis(1100));
    let (status, _) = call(
        &server.url,
        "GET",
        &format!("/api/v1/connectedAccounts/{oauth_id}/credentials"),
        Some(&server.admin),
        None,
    );
    assert_eq!(status, 409, "a dead grant expires the connection");
    // A connect page and a callback with a stale state and a code.
    let _ = agent()
        .get(format!(
            "{}/callback/testidp?code=CANARYauth-code-stale&state=CANARYstate-x",
            server.url
        ))
        .call();
    canaries.push("CANARYauth-code-stale".into());
    canaries.push("CANARYstate-x".into());
    server.stop();

    {
        let ledger = tokens.ledger.lock().unwrap();
        for family in &ledger.families {
            canaries.extend(family.access_tokens.iter().cloned());
            canaries.extend(family.refresh_tokens.iter().cloned());
        }
        assert!(
            ledger.refreshes >= 3,
            "the refresh path ran ({} refreshes)",
            ledger.refreshes
        );
    }
    let stderr = std::fs::read_to_string(dir.with_extension("log")).unwrap();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let text = format!("{stdout}\n{stderr}");
    let lines = text.lines().count();
    let mut hits = Vec::new();
    for canary in &canaries {
        for needle in encodings(canary) {
            if let Some(line) = text.lines().find(|l| l.contains(&needle)) {
                hits.push(format!("{canary} as {needle}: {line}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets in the logs: {hits:#?}");
    // The scan is not blind: trace output was captured and names what happened.
    assert!(lines > 200, "only {lines} log lines at trace level");
    for id in &ids {
        assert!(text.contains(id.as_str()), "the log never mentions {id}");
    }
    println!(
        "{lines} log lines scanned at KEYPORT_LOG=trace (stdout + stderr): {} canaries x {} encodings, 0 hits",
        canaries.len(),
        encodings("x").len()
    );
}
