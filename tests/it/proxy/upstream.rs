//! The far side: hostile endpoints never leave the configured host, redirects are not
//! followed, failures map to 502/504, answers pass through with their status, and no
//! credential shows in an answer, an error or the log.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{UPSTREAM_TIMEOUT_MS, get, github, header, message, proxy_server};
use crate::common::Server;
use crate::common::stand_in::{Reply, Upstream, closed_port, json_reply};

#[test]
fn hostile_endpoints_never_leave_the_host() {
    let kp = proxy_server();
    let off = Upstream::ok();
    let on = Upstream::ok();
    let base = format!("{}/api/v3", on.base);
    let id = github(&kp, &base, "ghp_hostile_canary");
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
    let kp = proxy_server();
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
    let id = github(&kp, &format!("{}/api", on.base), "t");
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
    let kp = proxy_server();
    let hang = Upstream::start(|_| Reply::Hang);
    let id = github(&kp, &hang.base, "t");
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
    let id = github(&kp, &huge.base, "t");
    let (status, answer) = kp.proxy(get(&id, "/big"));
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_failed");
    assert!(message(&answer).contains("larger than"), "{answer}");

    let base = format!("http://127.0.0.1:{}", closed_port());
    let id = github(&kp, &base, "t");
    let (status, answer) = kp.proxy(get(&id, "/x"));
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "upstream_failed");
}

#[test]
fn upstream_answers_pass_through_with_their_status() {
    let kp = proxy_server();
    let upstream = Upstream::start(|req| match req.target.as_str() {
        "/missing" => json_reply(404, json!({"message": "Not Found"})),
        "/denied" => json_reply(401, json!({"message": "Bad credentials"})),
        "/busy" => json_reply(503, json!({"message": "maintenance"})),
        _ => json_reply(
            201,
            json!({"created": true, "echo": String::from_utf8_lossy(&req.body)}),
        ),
    });
    let id = github(&kp, &upstream.base, "t");
    let (status, answer) = kp.proxy(get(&id, "/missing"));
    assert_eq!(status, 200);
    assert_eq!(answer["status"], 404);
    assert_eq!(answer["successful"], false);
    assert_eq!(answer["data"]["message"], "Not Found");
    assert!(
        answer["error"].as_str().unwrap_or("").contains("404"),
        "{answer}"
    );

    // A 503 is the provider's answer, said as such (not "could not be reached"), every
    // time, and the next call goes through.
    for _ in 0..2 {
        let (status, answer) = kp.proxy(get(&id, "/busy"));
        assert_eq!((status, &answer["status"]), (200, &json!(503)), "{answer}");
        let said = answer["error"].as_str().unwrap_or_default();
        assert!(
            said.contains("answered HTTP 503") && said.contains("maintenance"),
            "{answer}"
        );
    }
    assert_eq!(kp.proxy(get(&id, "/ok")).1["status"], 201);

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

const CANARY: &str = "ghp_CANARY_c4n4ry_0123456789";
const KEY_CANARY: &str = "trello_KEY_CANARY_987654321";

/// A trello API_KEY connection of alice holding both canaries.
fn trello(kp: &Server, base: &str) -> String {
    kp.connect(
        "trello",
        "API_KEY",
        base,
        json!({}),
        "alice",
        json!({"api_key": KEY_CANARY, "token": CANARY}),
    )
}

#[test]
fn credentials_never_appear_in_answers_errors_or_logs() {
    let kp = proxy_server();
    let mut bodies = failure_answers(&kp);
    bodies.extend(echoed_answers(&kp));
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

/// Answers and errors of calls through upstreams that hang, answer too much, or are down.
fn failure_answers(kp: &Server) -> Vec<String> {
    let mut bodies: Vec<String> = Vec::new();
    let hang = Upstream::start(|_| Reply::Hang);
    let huge = Upstream::start(|_| Reply::Huge(16 * 1024 * 1024 + 10));
    let dead = format!("http://127.0.0.1:{}", closed_port());
    for base in [hang.base.clone(), huge.base.clone(), dead.clone()] {
        let id = github(kp, &base, CANARY);
        bodies.push(kp.proxy(get(&id, "/x")).1.to_string());
        bodies.push(kp.proxy(get(&id, "/../x")).1.to_string());
        for (action, body) in [
            (
                "GITHUB_CREATE_AN_ISSUE",
                json!({"connectedAccountId": id, "input": {"owner": "o"}}),
            ),
            (
                "GITHUB_GET_THE_AUTHENTICATED_USER",
                json!({"connectedAccountId": id}),
            ),
        ] {
            bodies.push(kp.execute(action, body).1.to_string());
        }
        let trello = trello(kp, &base);
        bodies.push(kp.proxy(get(&trello, "/members/me")).1.to_string());
    }
    bodies
}

/// A provider that echoes what it got: the credential is masked in the answer. A disabled
/// connection's refusal too.
fn echoed_answers(kp: &Server) -> Vec<String> {
    let mut bodies: Vec<String> = Vec::new();
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
    let id = github(kp, &echo.base, CANARY);
    let (status, answer) = kp.proxy(get(&id, "/echo"));
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["authorization"], "********");
    assert_eq!(header(&answer, "x-echo"), Some("********"));
    bodies.push(answer.to_string());
    let trello = trello(kp, &echo.base);
    let (_, answer) = kp.proxy(get(&trello, "/echo"));
    assert_eq!(
        answer["data"]["target"],
        "/echo?key=********&token=********"
    );
    bodies.push(answer.to_string());
    let disabled = github(kp, &echo.base, CANARY);
    kp.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{disabled}/disable"),
        Some(&json!({})),
    );
    bodies.push(kp.proxy(get(&disabled, "/x")).1.to_string());

    bodies
}
