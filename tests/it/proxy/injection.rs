//! What goes out and for whom: each static scheme's credential injected exactly, the
//! caller's own credentials and hop-by-hop headers dropped, the connection chosen by entity
//! and app, and a disabled connection refused.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{get, github, header, message, proxy_server};
use crate::common::Server;
use crate::common::stand_in::{Reply, Upstream};

#[test]
fn each_static_scheme_is_injected_exactly() {
    let kp = proxy_server();
    let check = |(app, scheme): (&str, &str), config: Value, data: Value| {
        let upstream = Upstream::ok();
        let base = format!("{}/base", upstream.base);
        let id = kp.connect(app, scheme, &base, config, "alice", data);
        let (status, answer) = kp.proxy(get(&id, "/who?x=1"));
        assert_eq!(status, 200, "{app}: {answer}");
        assert_eq!(answer["status"], 200, "{app}: {answer}");
        assert_eq!(answer["data"], json!({"ok": true}));
        let seen = upstream.only();
        assert_eq!(seen.method, "GET");
        seen
    };

    let seen = check(("github", "BEARER_TOKEN"), json!({}), json!({"token": "t"}));
    assert_eq!(seen.target, "/base/who?x=1");
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    assert_eq!(seen.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(seen.header("x-github-api-version"), Some("2022-11-28"));

    let seen = check(
        ("twilio", "BASIC"),
        json!({}),
        json!({"username": "AC123", "password": "p@ss:word é"}),
    );
    let expected = format!("Basic {}", STANDARD.encode("AC123:p@ss:word é"));
    assert_eq!(seen.header("authorization"), Some(expected.as_str()));

    // API_KEY in a header, with the catalog's name and prefix.
    let seen = check(
        ("discord", "API_KEY"),
        json!({}),
        json!({"api_key": "bot-secret"}),
    );
    assert_eq!(seen.header("authorization"), Some("Bot bot-secret"));
    let seen = check(
        ("anthropic", "API_KEY"),
        json!({}),
        json!({"api_key": "sk-ant-1"}),
    );
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-1"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("authorization"), None);

    // API_KEY in the query: Trello's key and token, and a key configured with in=query.
    let seen = check(
        ("trello", "API_KEY"),
        json!({}),
        json!({"api_key": "trello-key", "token": "trello-token"}),
    );
    assert_eq!(
        seen.target,
        "/base/who?x=1&key=trello-key&token=trello-token"
    );
    assert_eq!(seen.header("authorization"), None);
    let seen = check(
        ("anthropic", "API_KEY"),
        json!({"in": "query", "name": "api_key"}),
        json!({"api_key": "sk-in-query"}),
    );
    assert_eq!(seen.target, "/base/who?x=1&api_key=sk-in-query");
    assert_eq!(seen.header("x-api-key"), None);
    assert_eq!(seen.header("authorization"), None);

    let seen = check(("hackernews", "NO_AUTH"), json!({}), json!({}));
    assert_eq!(seen.target, "/base/who?x=1");
    assert_eq!(seen.header("authorization"), None);
}

/// Headers a caller sends that must not pass as they are, and two that must.
const CALLER_HEADERS: &[(&str, &str)] = &[
    ("Authorization", "Bearer caller-token"),
    ("authorization", "Basic Y2FsbGVyOnB3"),
    ("Cookie", "sid=caller"),
    ("Proxy-Authorization", "Basic eA=="),
    ("Host", "evil.example"),
    ("Connection", "close, X-Hop"),
    ("X-Hop", "dropped"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "X-T"),
    ("Transfer-Encoding", "chunked"),
    ("Upgrade", "h2c"),
    ("Content-Length", "5"),
    ("Accept", "application/json"),
    ("X-Custom", "kept"),
];

#[test]
fn caller_credentials_and_hop_by_hop_headers_are_not_forwarded() {
    let kp = proxy_server();
    let upstream = Upstream::start(|_| Reply::Send {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Set-Cookie".into(), "session=upstream".into()),
            ("X-RateLimit-Remaining".into(), "41".into()),
        ],
        body: b"plain text".to_vec(),
    });
    let id = github(&kp, &upstream.base, "real-token");
    let params: Vec<Value> = CALLER_HEADERS
        .iter()
        .map(|(n, v)| json!({"in": "header", "name": n, "value": v}))
        .chain([json!({"in": "query", "name": "per_page", "value": 5})])
        .collect();
    let (status, answer) = kp.proxy(json!({
        "connectedAccountId": id, "endpoint": "/user", "method": "get", "parameters": params
    }));
    assert_eq!(status, 200, "{answer}");
    let seen = upstream.only();
    assert_eq!(seen.target, "/user?per_page=5");
    assert_eq!(seen.all("authorization"), vec!["Bearer real-token"]);
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{}", upstream.port).as_str())
    );
    for gone in [
        "cookie",
        "proxy-authorization",
        "x-hop",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
    ] {
        assert_eq!(seen.header(gone), None, "{gone} was forwarded");
    }
    assert_ne!(seen.header("connection"), Some("close, X-Hop"));
    assert_ne!(seen.header("content-length"), Some("5"));
    // The caller's Accept replaces the app's default; other caller headers pass.
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("x-custom"), Some("kept"));
    // The answer: text data, no Set-Cookie, other headers kept.
    assert_eq!(answer["data"], "plain text");
    assert_eq!(header(&answer, "set-cookie"), None);
    assert_eq!(header(&answer, "x-ratelimit-remaining"), Some("41"));
    assert_eq!(answer["successful"], true);
    assert_eq!(answer["error"], Value::Null);

    a_query_parameter_cannot_replace_the_injected_key(&kp);
}

/// A query parameter named like the injected key cannot replace it.
fn a_query_parameter_cannot_replace_the_injected_key(kp: &Server) {
    let trello = Upstream::ok();
    let id = kp.connect(
        "trello",
        "API_KEY",
        &trello.base,
        json!({}),
        "alice",
        json!({"api_key": "real-key", "token": "real-tok"}),
    );
    let (status, _) = kp.proxy(json!({
        "connectedAccountId": id, "endpoint": "/x?key=evil1", "method": "GET",
        "parameters": [{"in": "query", "name": "key", "value": "evil2"}]
    }));
    assert_eq!(status, 200);
    assert_eq!(trello.only().target, "/x?key=real-key&token=real-tok");
}

#[test]
fn entity_and_app_pick_the_default_else_the_oldest_active_connection() {
    let kp = proxy_server();
    let upstream = Upstream::ok();
    let older = github(&kp, &upstream.base, "older");
    std::thread::sleep(Duration::from_millis(20));
    let newer = github(&kp, &upstream.base, "newer");
    let by_entity =
        json!({"entityId": "alice", "appName": "GITHUB", "endpoint": "/user", "method": "GET"});
    // By app: the oldest ACTIVE connection (as the Composio SDK's get_connection picks),
    // unless the entity marked another as its default; a default that cannot act does not
    // count.
    let (status, answer) = kp.proxy(by_entity.clone());
    assert_eq!(status, 200, "{answer}");
    let marked = kp.ok(
        "PATCH",
        &format!("/api/v1/connectedAccounts/{newer}"),
        Some(&json!({"default": true, "labels": ["work"]})),
    );
    assert_eq!(marked["connectionParams"]["default"], true, "{marked}");
    assert_eq!(marked["labels"], json!(["work"]));
    kp.proxy(by_entity.clone());
    kp.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{newer}/disable"),
        Some(&json!({})),
    );
    kp.proxy(by_entity.clone());
    let tokens: Vec<String> = upstream
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect();
    assert_eq!(tokens, ["Bearer older", "Bearer newer", "Bearer older"]);
    one_default_per_entity_and_app(&kp, &older, &newer);
    no_connection_of_the_entity_or_app_is_404(&kp);
    a_key_of_bob_cannot_reach_alices_connection(&kp, &older, by_entity);
    assert_eq!(upstream.count(), 3);
}

/// Marking the older one unmarks the newer (its labels stay); edits that are not labels or
/// a boolean default are refused.
fn one_default_per_entity_and_app(kp: &Server, older: &str, newer: &str) {
    kp.ok(
        "PATCH",
        &format!("/api/v1/connectedAccounts/{older}"),
        Some(&json!({"default": true})),
    );
    assert!(kp.connection(newer)["connectionParams"]["default"].is_null());
    assert_eq!(kp.connection(newer)["labels"], json!(["work"]));
    for bad in [
        json!({"labels": [""]}),
        json!({"favourite": true}),
        json!({"default": "yes"}),
    ] {
        let path = format!("/api/v1/connectedAccounts/{older}");
        let (status, answer) = kp.as_admin("PATCH", &path, Some(&bad));
        assert_eq!(status, 400, "{bad}: {answer}");
    }
}

fn no_connection_of_the_entity_or_app_is_404(kp: &Server) {
    let (status, answer) = kp.proxy(
        json!({"entityId": "bob", "appName": "github", "endpoint": "/user", "method": "GET"}),
    );
    assert_eq!(status, 404, "{answer}");
    assert!(message(&answer).contains("bob/github"), "{answer}");
    let (status, _) =
        kp.proxy(json!({"entityId": "alice", "appName": "nope", "endpoint": "/", "method": "GET"}));
    assert_eq!(status, 404);
}

/// A key restricted to bob cannot act through alice's connection, by id or by entity,
/// nor change it (a manage key, which may change bob's).
fn a_key_of_bob_cannot_reach_alices_connection(kp: &Server, older: &str, by_entity: Value) {
    let key = kp.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "bob-agent", "permission": "manage", "entityId": "bob"})),
    );
    let key = key["key"].as_str().unwrap_or_default().to_string();
    let call = |method: &str, path: &str, body: Value| {
        crate::common::call(&kp.url, method, path, Some(&key), Some(&body))
    };
    let proxy = "/api/v2/actions/proxy";
    assert_eq!(call("POST", proxy, get(older, "/user")).0, 404);
    assert_eq!(call("POST", proxy, by_entity).0, 403);
    let path = format!("/api/v1/connectedAccounts/{older}");
    let (status, _) = call("PATCH", &path, json!({"default": false}));
    assert_eq!(status, 404, "bob's key edited alice's connection");
}

#[test]
fn a_disabled_connection_must_be_enabled_again() {
    let kp = proxy_server();
    let upstream = Upstream::ok();
    let id = github(&kp, &upstream.base, "ghp_disabled_canary");
    kp.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/disable"),
        Some(&json!({})),
    );
    let (status, answer) = kp.proxy(get(&id, "/user"));
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    assert!(message(&answer).contains("enable it"), "{answer}");
    let (status, answer) = kp.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        json!({"connectedAccountId": id, "input": {}}),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(!answer.to_string().contains("ghp_disabled_canary"));
    assert_eq!(upstream.count(), 0);
}
