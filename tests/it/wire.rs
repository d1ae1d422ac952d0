//! The wire shapes the Composio SDK reads, pinned: real answers of a running keyport, with
//! the values that change on every run (ids, timestamps, keys, the port) normalized, must
//! equal the golden files in `tests/it/golden/` exactly, so a field renamed, dropped,
//! added or retyped fails here. `KEYPORT_BLESS=1` rewrites the goldens from the answers
//! (then review the diff). And a list read with a `reveal` key makes no network call: it
//! shows stored credentials, never renews them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::idp::{callback, server_with_testidp, testidp_integration};
use crate::common::stand_in::{Upstream, reply};
use crate::common::{Launch, Server};

/// Fields whose values differ on every run; ids only where they are minted UUIDs, in
/// either spelling (an entity's id is the caller's, and an app's id is derived from its
/// key). The v3 names are snake_case.
const VOLATILE: [(&str, &str); 17] = [
    ("id", "<id>"),
    ("uuid", "<id>"),
    ("connectedAccountId", "<id>"),
    ("connected_account_id", "<id>"),
    ("integrationId", "<id>"),
    ("createdAt", "<time>"),
    ("updatedAt", "<time>"),
    ("revokedAt", "<time>"),
    ("created_at", "<time>"),
    ("updated_at", "<time>"),
    ("last_updated_at", "<time>"),
    ("expires_at", "<time>"),
    ("expiresAt", "<time>"),
    ("link_token", "<link token>"),
    ("redirect_url", "<connect link>"),
    ("key", "<api key>"),
    ("prefix", "<api key prefix>"),
];

pub(crate) fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden")
}

fn is_volatile(field: &str, value: &Value) -> Option<&'static str> {
    let (_, placeholder) = VOLATILE.iter().find(|(name, _)| *name == field)?;
    let minted = match value {
        Value::Null => false,
        Value::String(s) if field.ends_with("id") || field.ends_with("Id") => {
            let bare = s.strip_prefix("ac_").or(s.strip_prefix("ca_")).unwrap_or(s);
            uuid::Uuid::parse_str(bare).is_ok_and(|u| u.get_version_num() == 4)
        }
        _ => true,
    };
    minted.then_some(*placeholder)
}

/// `value` with what changes on every run replaced: minted ids, times and key material by
/// field name, the server's own URL wherever it appears.
fn normalize(value: &Value, server_url: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(field, v)| {
                    let normalized = match is_volatile(field, v) {
                        Some(placeholder) => Value::String(placeholder.into()),
                        None => normalize(v, server_url),
                    };
                    (field.clone(), normalized)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| normalize(v, server_url)).collect())
        }
        Value::String(s) => Value::String(s.replace(server_url, "<keyport>")),
        other => other.clone(),
    }
}

/// Compares a normalized answer with `golden/<name>.json`.
pub(crate) fn pin(server: &Server, name: &str, answer: &Value) {
    let actual = normalize(answer, &server.url);
    let path = golden_dir().join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(&actual).unwrap() + "\n";
    if std::env::var_os("KEYPORT_BLESS").is_some() {
        std::fs::write(&path, &pretty).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with KEYPORT_BLESS=1 to write it",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(
        actual, expected,
        "{name}: the wire shape changed\n--- actual\n{pretty}"
    );
}

/// A keyport whose catalog has one extra, fixed app, `goldenapp`, so the app golden does
/// not move with the builtin catalog.
pub(crate) fn golden_server() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    let app = json!({"apps": [{
        "key": "goldenapp", "name": "Golden App", "description": "A fixed app for the wire goldens",
        "categories": ["testing"], "docs": "https://docs.example.com/golden",
        "base_url": "https://{subdomain}.example.com/api",
        "variables": [{"name": "subdomain", "display_name": "Subdomain", "description": "Your site"}],
        "auth_schemes": [
            {"mode": "API_KEY", "in": "header", "name": "X-Golden-Key"},
            {"mode": "OAUTH2", "authorization_url": "https://auth.example.com/authorize",
             "token_url": "https://auth.example.com/token", "default_scopes": ["read", "write"],
             "scope_separator": " ", "pkce": true, "token_auth": "client_secret_post"}
        ]
    }]});
    std::fs::write(dir.join("providers/goldenapp.json"), app.to_string()).unwrap();
    let mut server = Launch::default().start_in(&dir).expect("keyport starts");
    server.keep(tmp);
    server
}

/// Pins what an admin `GET path` answers.
fn pin_get(server: &Server, name: &str, path: &str) -> Value {
    let answer = server.ok("GET", path, None);
    pin(server, name, &answer);
    answer
}

#[test]
fn apps_integrations_and_connections_match_the_goldens() {
    let server = golden_server();
    pin_get(&server, "app", "/api/v1/apps/GOLDENAPP");
    let oauth = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "goldenapp", "authScheme": "OAUTH2", "name": "golden-oauth",
            "authConfig": {"client_id": "cid", "client_secret": "s3cret", "scopes": ["read", "write"]}})),
    );
    pin(&server, "integration", &oauth);
    let by_key = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "goldenapp", "authScheme": "API_KEY", "name": "golden-key"})),
    );
    pin_get(
        &server,
        "integration_list",
        "/api/v1/integrations?appName=goldenapp",
    );
    let mut accounts = Vec::new();
    for key in ["k-1", "k-2"] {
        let created = server.ok(
            "POST",
            "/api/v1/connectedAccounts",
            Some(&json!({"integrationId": by_key["id"], "userUuid": "alice",
                "data": {"api_key": key, "subdomain": "acme"}, "labels": ["golden"]})),
        );
        pin(&server, "created_connection", &created);
        accounts.push(created["connectedAccountId"].as_str().unwrap().to_string());
    }
    let one = format!("/api/v1/connectedAccounts/{}", accounts[0]);
    pin_get(&server, "connected_account", &one);
    // Two accounts, one per page: the second page of two.
    pin_get(
        &server,
        "connected_account_list",
        "/api/v1/connectedAccounts?user_uuid=alice&pageSize=1&page=2",
    );
    pin_get(&server, "connection_info", &format!("{one}/info"));
    pin_get(&server, "credentials", &format!("{one}/credentials"));
    pin_get(&server, "entities", "/api/v1/entities");
    pin(
        &server,
        "deleted_connection",
        &server.ok("DELETE", &one, None),
    );
    let integration = format!("/api/v1/integrations/{}", by_key["id"].as_str().unwrap());
    pin(
        &server,
        "deleted_integration",
        &server.ok("DELETE", &integration, None),
    );
}

#[test]
fn actions_keys_and_errors_match_the_goldens() {
    let server = Server::start();
    let action = pin_get(&server, "action", "/api/v2/actions/NOTION_SEARCH");
    let listed = server.ok("GET", "/api/v2/actions?apps=NOTION", None);
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        listed.as_object().map(|o| o.len()),
        Some(1),
        "the action list is {{items}}: {listed}"
    );
    assert!(
        items.contains(&action) && items.iter().all(|i| i["appKey"] == "notion"),
        "the action list holds the same actions"
    );
    pin_get(&server, "triggers", "/api/v1/triggers");
    let key = server.ok(
        "POST",
        "/api/v1/keys",
        Some(
            &json!({"name": "golden", "permission": "reveal", "entityId": "alice",
            "expiresIn": 3600, "allowedApps": ["github"], "allowedMethods": ["GET"]}),
        ),
    );
    pin(&server, "key", &key);
    pin_get(&server, "key_list", "/api/v1/keys");
    let reveal = key["key"].as_str().unwrap();
    let (status, info) = server.call("GET", "/api/v1/client/auth/client_info", Some(reveal), None);
    assert_eq!(status, 200);
    pin(&server, "client_info", &info);
    let (status, missing) = server.call(
        "GET",
        "/api/v1/integrations/00000000-0000-4000-8000-000000000000",
        Some(&server.admin),
        None,
    );
    assert_eq!(status, 404);
    pin(&server, "error", &missing);
}

/// An ACTIVE `testidp` connection whose code exchange got a token that is due for renewal
/// two seconds into the second it was issued in and expired at three (issue times are whole
/// seconds), from a stand-in token endpoint that answers 503 to everything after that. The
/// callback's who-am-I check, made just after the exchange, still finds it fresh: with a
/// 1 s lifetime it did not when the exchange fell late in a second, and renewed it.
fn expiring_connection(server: &Server) -> (String, Upstream) {
    let answered = AtomicBool::new(false);
    let tokens = Upstream::start(move |_| {
        if answered.swap(true, Ordering::SeqCst) {
            reply(503, "text/plain", "")
        } else {
            reply(
                200,
                "application/json",
                r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":3}"#,
            )
        }
    });
    let integration = testidp_integration(server, &tokens.base, json!({}));
    let created = server.create_connection(json!({
        "integrationId": integration["id"], "userUuid": "frank", "data": {}, "labels": []}));
    let url = created["redirectUrl"].as_str().unwrap();
    assert_eq!(callback(&server.url, url, "abc"), Some(200));
    let id = created["connectedAccountId"].as_str().unwrap().to_string();
    (id, tokens)
}

/// `GET path` with `key`, which must succeed.
fn read_as(server: &Server, key: &str, path: &str) -> Value {
    let (status, answer) = server.call("GET", path, Some(key), None);
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

#[test]
fn a_list_read_with_a_reveal_key_makes_no_token_request() {
    let server = server_with_testidp(&Launch::default());
    let (id, tokens) = expiring_connection(&server);
    assert_eq!(tokens.count(), 1, "the code exchange");
    let key = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "agent", "permission": "reveal"})),
    );
    let reveal = key["key"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(3100));

    // The token has expired. A list shows it as stored, live to a reveal key, unrenewed.
    for query in ["", "?user_uuid=frank", "?showActiveOnly=true&pageSize=10"] {
        let list = read_as(
            &server,
            reveal,
            &format!("/api/v1/connectedAccounts{query}"),
        );
        let account = &list["items"][0];
        assert_eq!(account["id"], json!(id));
        assert_eq!(
            account["connectionParams"]["headers"]["Authorization"], "Bearer at-1",
            "{account}"
        );
    }
    assert_eq!(tokens.count(), 1, "a list made a token request");

    // The same key reading the one account does renew it first (the endpoint now answers
    // 503, so the read falls back to redacted): the stand-in counts what a list did not do.
    let one = read_as(&server, reveal, &format!("/api/v1/connectedAccounts/{id}"));
    assert_eq!(tokens.count(), 2, "one renewal attempt");
    assert_eq!(
        one["connectionParams"]["headers"]["Authorization"],
        "********"
    );
}

/// `golden/<name>.json` read into `T` and written back: unchanged. The CLI reads answers
/// into these types, so nothing may be lost on the way.
fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(name: &str) {
    let text = std::fs::read_to_string(golden_dir().join(format!("{name}.json"))).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let typed: T = serde_json::from_value(golden.clone())
        .unwrap_or_else(|e| panic!("{name} does not read as its wire type: {e}"));
    assert_eq!(serde_json::to_value(typed).unwrap(), golden, "{name}");
}

#[test]
fn the_goldens_read_back_into_the_wire_types_unchanged() {
    use keyport::http::dto::*;
    round_trips::<AppDto>("app");
    round_trips::<IntegrationDto>("integration");
    round_trips::<Page<IntegrationDto>>("integration_list");
    round_trips::<CreatedConnectionDto>("created_connection");
    round_trips::<ConnectedAccountDto>("connected_account");
    round_trips::<ConnectedAccountPage>("connected_account_list");
    round_trips::<ConnectionInfoDto>("connection_info");
    round_trips::<CredentialsDto>("credentials");
    round_trips::<ActionDto>("action");
    round_trips::<CreatedApiKeyDto>("key");
    round_trips::<Page<ApiKeyDto>>("key_list");
    round_trips::<ClientInfoDto>("client_info");
    round_trips::<Page<TriggerDto>>("triggers");
    round_trips::<Page<EntityDto>>("entities");
    round_trips::<ErrorBody>("error");
    round_trips::<StatusDto>("deleted_connection");
    round_trips::<DeletedIntegrationDto>("deleted_integration");
}
