//! Acting for an entity: the credential-injecting proxy and named actions, against
//! stand-in providers on 127.0.0.1. Each claim is checked on what the stand-in actually
//! received: the exact credential, nothing from the caller that must not pass, and — for
//! every refusal — zero requests at an "off-host" server that records everything.

mod stand_in;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Value, json};

use stand_in::{Keyport, Reply, UPSTREAM_TIMEOUT_MS, Upstream, closed_port, json_reply};

fn get(connection: &str, endpoint: &str) -> Value {
    json!({"connectedAccountId": connection, "endpoint": endpoint, "method": "GET"})
}

fn header<'a>(answer: &'a Value, name: &str) -> Option<&'a str> {
    answer["headers"][name].as_str()
}

#[test]
fn each_static_scheme_is_injected_exactly() {
    let kp = Keyport::start();
    let check = |app: &str, scheme: &str, config: Value, data: Value| {
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

    let seen = check("github", "BEARER_TOKEN", json!({}), json!({"token": "t"}));
    assert_eq!(seen.target, "/base/who?x=1");
    assert_eq!(seen.header("authorization"), Some("Bearer t"));
    assert_eq!(seen.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(seen.header("x-github-api-version"), Some("2022-11-28"));

    let seen = check(
        "twilio",
        "BASIC",
        json!({}),
        json!({"username": "AC123", "password": "p@ss:word é"}),
    );
    let expected = format!("Basic {}", STANDARD.encode("AC123:p@ss:word é"));
    assert_eq!(seen.header("authorization"), Some(expected.as_str()));

    // API_KEY in a header, with the catalog's name and prefix.
    let seen = check(
        "discord",
        "API_KEY",
        json!({}),
        json!({"api_key": "bot-secret"}),
    );
    assert_eq!(seen.header("authorization"), Some("Bot bot-secret"));
    let seen = check(
        "anthropic",
        "API_KEY",
        json!({}),
        json!({"api_key": "sk-ant-1"}),
    );
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-1"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("authorization"), None);

    // API_KEY in the query: Trello's key and token, and a key configured with in=query.
    let seen = check(
        "trello",
        "API_KEY",
        json!({}),
        json!({"api_key": "trello-key", "token": "trello-token"}),
    );
    assert_eq!(
        seen.target,
        "/base/who?x=1&key=trello-key&token=trello-token"
    );
    assert_eq!(seen.header("authorization"), None);
    let seen = check(
        "anthropic",
        "API_KEY",
        json!({"in": "query", "name": "api_key"}),
        json!({"api_key": "sk-in-query"}),
    );
    assert_eq!(seen.target, "/base/who?x=1&api_key=sk-in-query");
    assert_eq!(seen.header("x-api-key"), None);
    assert_eq!(seen.header("authorization"), None);

    let seen = check("hackernews", "NO_AUTH", json!({}), json!({}));
    assert_eq!(seen.target, "/base/who?x=1");
    assert_eq!(seen.header("authorization"), None);
}

#[test]
fn caller_credentials_and_hop_by_hop_headers_are_not_forwarded() {
    let kp = Keyport::start();
    let upstream = Upstream::start(|_| Reply::Send {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Set-Cookie".into(), "session=upstream".into()),
            ("X-RateLimit-Remaining".into(), "41".into()),
        ],
        body: b"plain text".to_vec(),
    });
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "real-token"}),
    );
    let params: Vec<Value> = [
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
    ]
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

    // A query parameter named like the injected key cannot replace it.
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
fn hostile_endpoints_never_leave_the_host() {
    let kp = Keyport::start();
    let off = Upstream::ok();
    let on = Upstream::ok();
    let base = format!("{}/api/v3", on.base);
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &base,
        json!({}),
        "alice",
        json!({"token": "ghp_hostile_canary"}),
    );
    let o = off.port;
    let hostile = vec![
        format!("http://127.0.0.1:{o}/x"),
        format!("HTTP://127.0.0.1:{o}/x"),
        format!("//127.0.0.1:{o}/x"),
        format!("///127.0.0.1:{o}/x"),
        format!("http:127.0.0.1:{o}/x"),
        format!("http://127.0.0.1:{}@127.0.0.1:{o}/x", on.port),
        format!("\\\\127.0.0.1:{o}\\x"),
        format!("/\\127.0.0.1:{o}/x"),
        "/..".into(),
        "..".into(),
        "/../x".into(),
        "/../../x".into(),
        "/a/../../x".into(),
        "/%2e%2e/x".into(),
        "/%2E%2e/x".into(),
        "/.%2e/x".into(),
        "/%252e%252e/x".into(),
        "/%25%32%65%25%32%65/x".into(),
        "/a%2F..%2F..%2Fx".into(),
        "/a%2f%2e%2e%2fx".into(),
        "/a%5C..%5Cx".into(),
        "/..;/x".into(),
        "/x\t".into(),
        "/x\nHost: evil".into(),
        "/x%0d%0aHost:%20evil".into(),
        "/x%00".into(),
        "/x#frag".into(),
        "/a//b".into(),
        "".into(),
    ];
    for endpoint in &hostile {
        let (status, answer) = kp.proxy(get(&id, endpoint));
        assert_eq!(status, 400, "{endpoint:?} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input", "{endpoint:?}");
        assert!(!answer.to_string().contains("ghp_hostile_canary"));
    }
    assert_eq!(off.count(), 0, "a request reached the off-host server");
    assert_eq!(on.count(), 0, "a refused request reached the upstream");

    // `@` in a path is a path character: it stays on the host, under the base path.
    let (status, answer) = kp.proxy(get(&id, &format!("@127.0.0.1:{o}/x")));
    assert_eq!((status, &answer["status"]), (200, &json!(200)), "{answer}");
    assert_eq!(on.only().target, format!("/api/v3/@127.0.0.1:{o}/x"));
    assert_eq!(off.count(), 0);
}

#[test]
fn redirects_are_not_followed_and_off_host_locations_are_dropped() {
    let kp = Keyport::start();
    let off = Upstream::ok();
    let off_port = off.port;
    let on = Upstream::start(move |req| {
        let location = match req.target.as_str() {
            "/api/off" => format!("http://127.0.0.1:{off_port}/steal"),
            "/api/scheme-relative" => format!("//127.0.0.1:{off_port}/steal"),
            _ => "/api/next".to_string(),
        };
        Reply::Send {
            status: 302,
            headers: vec![("Location".into(), location)],
            body: Vec::new(),
        }
    });
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &format!("{}/api", on.base),
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    for endpoint in ["/off", "/scheme-relative"] {
        let (status, answer) = kp.proxy(get(&id, endpoint));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], 302);
        assert_eq!(answer["successful"], false);
        assert_eq!(header(&answer, "location"), None, "{endpoint}: {answer}");
    }
    let (_, answer) = kp.proxy(get(&id, "/same-host"));
    assert_eq!(answer["status"], 302);
    assert_eq!(header(&answer, "location"), Some("/api/next"));
    assert_eq!(on.count(), 3, "a redirect was followed");
    assert_eq!(off.count(), 0, "a request reached the off-host server");
}

#[test]
fn upstream_failures_map_to_502_and_504() {
    let kp = Keyport::start();
    let hang = Upstream::start(|_| Reply::Hang);
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &hang.base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let started = Instant::now();
    let (status, answer) = kp.proxy(get(&id, "/slow"));
    let took = started.elapsed();
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_timeout");
    assert!(
        took >= Duration::from_millis(UPSTREAM_TIMEOUT_MS - 100),
        "{took:?}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(hang.count(), 1);

    // One byte over keyport's 16 MiB cap.
    let huge = Upstream::start(|_| Reply::Huge(16 * 1024 * 1024 + 1));
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &huge.base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let (status, answer) = kp.proxy(get(&id, "/big"));
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_failed");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("larger than"),
        "{answer}"
    );

    let base = format!("http://127.0.0.1:{}", closed_port());
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let (status, answer) = kp.proxy(get(&id, "/x"));
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_failed");
}

#[test]
fn upstream_answers_pass_through_with_their_status() {
    let kp = Keyport::start();
    let upstream = Upstream::start(|req| match req.target.as_str() {
        "/missing" => json_reply(404, json!({"message": "Not Found"})),
        "/denied" => json_reply(401, json!({"message": "Bad credentials"})),
        _ => json_reply(
            201,
            json!({"created": true, "echo": String::from_utf8_lossy(&req.body)}),
        ),
    });
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let (status, answer) = kp.proxy(get(&id, "/missing"));
    assert_eq!(status, 200);
    assert_eq!(answer["status"], 404);
    assert_eq!(answer["successful"], false);
    assert_eq!(answer["data"]["message"], "Not Found");
    assert!(
        answer["error"].as_str().unwrap_or("").contains("404"),
        "{answer}"
    );

    // A static credential has nothing to refresh: a 401 is answered, not retried.
    let (_, answer) = kp.proxy(get(&id, "/denied"));
    assert_eq!(answer["status"], 401);
    assert_eq!(
        upstream
            .requests()
            .iter()
            .filter(|r| r.target == "/denied")
            .count(),
        1
    );

    // A JSON body goes out as JSON; a string body as text.
    let (_, answer) = kp.proxy(json!({"connectedAccountId": id, "endpoint": "/c", "method": "POST", "body": {"a": [1, 2]}}));
    assert_eq!(answer["status"], 201);
    assert_eq!(answer["data"]["echo"], r#"{"a":[1,2]}"#);
    let posted = upstream.requests().pop().unwrap_or_default();
    assert_eq!(posted.header("content-type"), Some("application/json"));
    let (_, answer) = kp.proxy(
        json!({"connectedAccountId": id, "endpoint": "/c", "method": "PUT", "body": "raw text",
        "parameters": [{"in": "header", "name": "Content-Type", "value": "text/markdown"}]}),
    );
    assert_eq!(answer["data"]["echo"], "raw text");
    let put = upstream.requests().pop().unwrap_or_default();
    assert_eq!(
        (put.method.as_str(), put.header("content-type")),
        ("PUT", Some("text/markdown"))
    );

    // Bad requests are refused before anything is sent.
    let before = upstream.count();
    for body in [
        json!({"connectedAccountId": id, "endpoint": "/c", "method": "GET", "body": {"a": 1}}),
        json!({"connectedAccountId": id, "endpoint": "/c", "method": "TRACE"}),
        json!({"connectedAccountId": id, "endpoint": "/c", "method": "GET", "parameters": [{"in": "body", "name": "a", "value": "b"}]}),
        json!({"connectedAccountId": id, "endpoint": "/c", "method": "GET", "parameters": [{"in": "header", "name": "Bad Name", "value": "b"}]}),
        json!({"endpoint": "/c", "method": "GET"}),
    ] {
        let (status, answer) = kp.proxy(body.clone());
        assert_eq!(status, 400, "{body} -> {answer}");
    }
    assert_eq!(upstream.count(), before);
}

#[test]
fn entity_and_app_pick_the_newest_active_connection() {
    let kp = Keyport::start();
    let upstream = Upstream::ok();
    let older = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "older"}),
    );
    std::thread::sleep(Duration::from_millis(20));
    let newer = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "newer"}),
    );
    let by_entity =
        json!({"entityId": "alice", "appName": "GITHUB", "endpoint": "/user", "method": "GET"});
    let (status, answer) = kp.proxy(by_entity.clone());
    assert_eq!(status, 200, "{answer}");
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
    assert_eq!(tokens, ["Bearer newer", "Bearer older"]);

    let (status, answer) = kp.proxy(
        json!({"entityId": "bob", "appName": "github", "endpoint": "/user", "method": "GET"}),
    );
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("bob/github"),
        "{answer}"
    );
    let (status, _) =
        kp.proxy(json!({"entityId": "alice", "appName": "nope", "endpoint": "/", "method": "GET"}));
    assert_eq!(status, 404);

    // A key restricted to bob cannot act through alice's connection, by id or by entity.
    let key = kp.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "bob-agent", "permission": "use", "entityId": "bob"})),
    );
    let key = key["key"].as_str().unwrap_or_default().to_string();
    let call = |body: Value| {
        crate::common::call(
            &kp.url,
            "POST",
            "/api/v2/actions/proxy",
            Some(&key),
            Some(&body),
        )
    };
    assert_eq!(call(get(&older, "/user")).0, 404);
    assert_eq!(call(by_entity).0, 403);
    assert_eq!(upstream.count(), 2);
}

#[test]
fn a_disabled_connection_must_be_reconnected() {
    let kp = Keyport::start();
    let upstream = Upstream::ok();
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "ghp_disabled_canary"}),
    );
    kp.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/disable"),
        Some(&json!({})),
    );
    let (status, answer) = kp.proxy(get(&id, "/user"));
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("reconnect"),
        "{answer}"
    );
    let (status, answer) = kp.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        json!({"connectedAccountId": id, "input": {}}),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(!answer.to_string().contains("ghp_disabled_canary"));
    assert_eq!(upstream.count(), 0);
}

#[test]
fn actions_are_listed_in_the_sdk_shape() {
    let kp = Keyport::start();
    let all = kp.ok("GET", "/api/v2/actions", None);
    let items = all["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 9, "{}", items.len());
    for item in &items {
        for field in [
            "name",
            "description",
            "appName",
            "appId",
            "version",
            "display_name",
        ] {
            assert!(item[field].is_string(), "{field} in {item}");
        }
        for schema in ["parameters", "response"] {
            assert!(item[schema]["properties"].is_object(), "{item}");
            assert!(item[schema]["title"].is_string(), "{item}");
            assert_eq!(item[schema]["type"], "object", "{item}");
        }
        assert!(
            item["available_versions"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        );
        assert!(item["tags"].is_array());
        assert_eq!(item["enabled"], true);
        let name = item["name"].as_str().unwrap_or_default();
        assert_eq!(name, name.to_ascii_uppercase());
        let app = item["appName"].as_str().unwrap_or_default();
        assert_eq!(app, app.to_ascii_lowercase());
    }
    let some = kp.ok("GET", "/api/v2/actions?apps=GITHUB,slack", None);
    let names: Vec<&str> = some["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"GITHUB_CREATE_AN_ISSUE") && names.contains(&"SLACK_SEND_MESSAGE"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("GITHUB_") || n.starts_with("SLACK_")),
        "{names:?}"
    );
    let two = kp.ok("GET", "/api/v2/actions?limit=2", None);
    assert_eq!(two["items"].as_array().map(Vec::len), Some(2));

    let one = kp.ok("GET", "/api/v2/actions/github_create_an_issue", None);
    assert_eq!(one["name"], "GITHUB_CREATE_AN_ISSUE");
    let integration = kp.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN"})),
    );
    assert_eq!(one["appId"], integration["appId"]);
    assert!(
        one["parameters"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("title")))
    );
    let (status, answer) = kp.call("GET", "/api/v2/actions/GITHUB_NO_SUCH_THING", None);
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found");
}

#[test]
fn action_input_is_validated_before_anything_is_sent() {
    let kp = Keyport::start();
    let upstream = Upstream::ok();
    kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let cases = [
        (json!({"owner": "o", "repo": "r"}), "input.title"),
        (
            json!({"owner": "o", "repo": "r", "title": 42}),
            "input.title",
        ),
        (
            json!({"owner": "o", "repo": "r", "title": "t", "labels": "bug"}),
            "input.labels",
        ),
        (
            json!({"owner": "..", "repo": "r", "title": "t"}),
            "input.owner",
        ),
        (
            json!({"owner": "a/b", "repo": "r", "title": "t"}),
            "input.owner",
        ),
        (json!(["not", "an", "object"]), "input"),
    ];
    for (input, field) in cases {
        let (status, answer) = kp.execute(
            "GITHUB_CREATE_AN_ISSUE",
            json!({"entityId": "alice", "input": input}),
        );
        assert_eq!(status, 400, "{input} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message:?} does not name {field}");
    }
    let (status, _) = kp.execute("GITHUB_NOPE", json!({"entityId": "alice", "input": {}}));
    assert_eq!(status, 404);
    let (status, _) = kp.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        json!({"entityId": "alice", "appName": "SLACK", "input": {}}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        upstream.count(),
        0,
        "an invalid action reached the provider"
    );
}

#[test]
fn github_create_an_issue_end_to_end() {
    let kp = Keyport::start();
    let upstream = Upstream::start(|req| {
        if req.method == "POST" && req.target == "/gh/repos/octo/hello/issues" {
            json_reply(
                201,
                json!({"number": 7, "html_url": "https://github.com/octo/hello/issues/7", "title": req.json()["title"]}),
            )
        } else {
            json_reply(404, json!({"message": "Not Found"}))
        }
    });
    kp.connect(
        "github",
        "BEARER_TOKEN",
        &format!("{}/gh", upstream.base),
        json!({}),
        "alice",
        json!({"token": "ghp_issue"}),
    );
    // The SDK's execute body, extras included.
    let (status, answer) = kp.execute(
        "GITHUB_CREATE_AN_ISSUE",
        json!({
            "connectedAccountId": null, "entityId": "alice", "appName": "GITHUB",
            "input": {"owner": "octo", "repo": "hello", "title": "It broke", "body": "Steps…", "labels": ["bug"]},
            "text": null, "version": "latest:base", "authConfig": null,
            "sessionInfo": {"sessionId": "abc"}, "allowTracing": false
        }),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true);
    assert_eq!(answer["successfull"], true);
    assert_eq!(answer["error"], Value::Null);
    assert_eq!(answer["data"]["number"], 7);
    assert_eq!(answer["data"]["title"], "It broke");
    let seen = upstream.only();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/gh/repos/octo/hello/issues");
    assert_eq!(
        seen.json(),
        json!({"title": "It broke", "body": "Steps…", "labels": ["bug"]})
    );
    assert_eq!(seen.header("authorization"), Some("Bearer ghp_issue"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("accept"), Some("application/vnd.github+json"));

    // A provider refusal is an unsuccessful result, not an API error.
    let (status, answer) = kp.execute(
        "GITHUB_CREATE_AN_ISSUE",
        json!({"entityId": "alice", "input": {"owner": "octo", "repo": "gone", "title": "t"}}),
    );
    assert_eq!(status, 200);
    assert_eq!(answer["successful"], false);
    assert_eq!(answer["successfull"], false);
    assert!(
        answer["error"].as_str().unwrap_or("").contains("404"),
        "{answer}"
    );
}

#[test]
fn gmail_send_email_sends_the_raw_message() {
    let kp = Keyport::start();
    let upstream = Upstream::start(|_| {
        json_reply(
            200,
            json!({"id": "m1", "threadId": "t1", "labelIds": ["SENT"]}),
        )
    });
    kp.connect(
        "gmail",
        "BEARER_TOKEN",
        &format!("{}/gmail/v1", upstream.base),
        json!({}),
        "alice",
        json!({"token": "ya29.gmail"}),
    );
    let (status, answer) = kp.execute(
        "GMAIL_SEND_EMAIL",
        json!({"entityId": "alice", "input": {
            "recipient_email": "bob@example.com", "cc": ["carol@example.com"],
            "subject": "Lunch?", "body": "Noon at the usual place.\nAlice"
        }}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true);
    assert_eq!(answer["data"]["id"], "m1");
    let seen = upstream.only();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("POST", "/gmail/v1/users/me/messages/send")
    );
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.gmail"));
    let body = seen.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let raw = URL_SAFE
        .decode(body["raw"].as_str().unwrap_or_default())
        .expect("base64url");
    let message = String::from_utf8(raw).expect("utf-8");
    let (head, text) = message.split_once("\r\n\r\n").expect("header/body split");
    let lines: Vec<&str> = head.split("\r\n").collect();
    for want in [
        "To: bob@example.com",
        "Cc: carol@example.com",
        "Subject: Lunch?",
        "MIME-Version: 1.0",
    ] {
        assert!(lines.contains(&want), "{want} not in {lines:?}");
    }
    let decoded = STANDARD
        .decode(text.replace("\r\n", ""))
        .expect("body base64");
    assert_eq!(decoded, "Noon at the usual place.\nAlice".as_bytes());

    let (status, answer) = kp.execute(
        "GMAIL_SEND_EMAIL",
        json!({"entityId": "alice", "input": {"recipient_email": "bob@example.com\r\nBcc: eve@example.com", "body": "x"}}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(upstream.count(), 1);
}

#[test]
fn credentials_never_appear_in_answers_errors_or_logs() {
    let kp = Keyport::start();
    const CANARY: &str = "ghp_CANARY_c4n4ry_0123456789";
    const KEY_CANARY: &str = "trello_KEY_CANARY_987654321";
    let mut bodies: Vec<String> = Vec::new();

    let hang = Upstream::start(|_| Reply::Hang);
    let huge = Upstream::start(|_| Reply::Huge(16 * 1024 * 1024 + 10));
    let dead = format!("http://127.0.0.1:{}", closed_port());
    for base in [hang.base.clone(), huge.base.clone(), dead.clone()] {
        let id = kp.connect(
            "github",
            "BEARER_TOKEN",
            &base,
            json!({}),
            "alice",
            json!({"token": CANARY}),
        );
        bodies.push(kp.proxy(get(&id, "/x")).1.to_string());
        bodies.push(kp.proxy(get(&id, "/../x")).1.to_string());
        bodies.push(
            kp.execute(
                "GITHUB_CREATE_AN_ISSUE",
                json!({"connectedAccountId": id, "input": {"owner": "o"}}),
            )
            .1
            .to_string(),
        );
        bodies.push(
            kp.execute(
                "GITHUB_GET_THE_AUTHENTICATED_USER",
                json!({"connectedAccountId": id}),
            )
            .1
            .to_string(),
        );
        let trello = kp.connect(
            "trello",
            "API_KEY",
            &base,
            json!({}),
            "alice",
            json!({"api_key": KEY_CANARY, "token": CANARY}),
        );
        bodies.push(kp.proxy(get(&trello, "/members/me")).1.to_string());
    }
    // A provider that echoes what it got: the credential is masked in the answer.
    let echo = Upstream::start(|req| Reply::Send {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (
                "X-Echo".into(),
                req.header("authorization").unwrap_or("").to_string(),
            ),
        ],
        body: json!({"authorization": req.header("authorization"), "target": req.target})
            .to_string()
            .into_bytes(),
    });
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &echo.base,
        json!({}),
        "alice",
        json!({"token": CANARY}),
    );
    let (status, answer) = kp.proxy(get(&id, "/echo"));
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["authorization"], "********");
    assert_eq!(header(&answer, "x-echo"), Some("********"));
    bodies.push(answer.to_string());
    let trello = kp.connect(
        "trello",
        "API_KEY",
        &echo.base,
        json!({}),
        "alice",
        json!({"api_key": KEY_CANARY, "token": CANARY}),
    );
    let (_, answer) = kp.proxy(get(&trello, "/echo"));
    assert_eq!(
        answer["data"]["target"],
        "/echo?key=********&token=********"
    );
    bodies.push(answer.to_string());
    let disabled = kp.connect(
        "github",
        "BEARER_TOKEN",
        &echo.base,
        json!({}),
        "alice",
        json!({"token": CANARY}),
    );
    kp.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{disabled}/disable"),
        Some(&json!({})),
    );
    bodies.push(kp.proxy(get(&disabled, "/x")).1.to_string());

    assert!(bodies.len() >= 18, "{}", bodies.len());
    for body in &bodies {
        assert!(
            !body.contains(CANARY) && !body.contains(KEY_CANARY),
            "credential leaked: {body}"
        );
        assert!(
            !body.contains("c4n4ry") && !body.contains("KEY_CANARY"),
            "credential leaked: {body}"
        );
    }
    let log = kp.log();
    assert!(
        !log.contains("c4n4ry") && !log.contains("KEY_CANARY"),
        "credential in the log"
    );
}

#[test]
fn the_cli_proxies_and_runs_actions() {
    let kp = Keyport::start();
    let upstream = Upstream::start(|req| match (req.method.as_str(), req.target.as_str()) {
        ("GET", "/user") => json_reply(200, json!({"login": "alice"})),
        ("POST", "/repos/o/r/issues") => json_reply(201, json!({"number": 1})),
        _ => json_reply(404, json!({"message": "Not Found"})),
    });
    let id = kp.connect(
        "github",
        "BEARER_TOKEN",
        &upstream.base,
        json!({}),
        "alice",
        json!({"token": "t"}),
    );
    let run = |args: &[&str]| {
        let out = crate::common::keyport(&kp.dir)
            .args(args)
            .output()
            .expect("run keyport");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["proxy", &id, "GET", "/user", "-H", "X-Trace: 1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("HTTP 200 OK"), "{stdout}");
    assert!(
        stdout.contains("content-type: application/json"),
        "{stdout}"
    );
    assert!(stdout.contains("\"login\": \"alice\""), "{stdout}");
    assert_eq!(
        upstream
            .requests()
            .pop()
            .unwrap_or_default()
            .header("x-trace"),
        Some("1")
    );

    let (code, stdout, _) = run(&["proxy", "github", "--entity", "alice", "GET", "/nothing"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("HTTP 404 Not Found"), "{stdout}");

    let (code, _, stderr) = run(&["proxy", &id, "GET", "http://evil.example/x"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("invalid_input"), "{stderr}");

    let (code, stdout, _) = run(&["actions", "list", "--app", "github"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("GITHUB_CREATE_AN_ISSUE") && !stdout.contains("SLACK_"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["actions", "show", "GITHUB_CREATE_AN_ISSUE"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("title") && stdout.contains("yes"),
        "{stdout}"
    );
    let input = r#"{"owner":"o","repo":"r","title":"t"}"#;
    let (code, stdout, stderr) = run(&[
        "actions",
        "run",
        "GITHUB_CREATE_AN_ISSUE",
        "--entity",
        "alice",
        "--input",
        input,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"number\": 1"), "{stdout}");
    let (code, _, stderr) = run(&[
        "actions",
        "run",
        "GITHUB_CREATE_AN_ISSUE",
        "--entity",
        "alice",
        "--input",
        "{}",
    ]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("input.owner"), "{stderr}");
}
