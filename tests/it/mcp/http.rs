//! `/mcp` on `keyport serve`: the Python SDK's suite over Streamable HTTP (every byte
//! recorded), and raw HTTP for the refusals and the messages an SDK never sends.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

use super::{World, assert_last_sent_as_alice, assert_no_canary, entity_key, python_suite, world};
use crate::common::client::{agent, get_json};

#[test]
fn the_python_mcp_sdk_uses_keyport_over_streamable_http() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = entity_key(&w.server, "mcp over http", "alice");
    let traffic = tmp.path().join("traffic.log");
    let config = json!({
        "transport": "http", "url": format!("{}/mcp", w.server.url),
        "key": key["key"], "traffic": traffic.display().to_string(),
    });
    let run = python_suite(&w, tmp.path(), config);
    let recorded = String::from_utf8_lossy(&std::fs::read(&traffic).expect("traffic")).to_string();
    for seen in [
        "GITHUB_CREATE_AN_ISSUE",
        "mcp-session-id",
        "text/event-stream",
        "notifications/tools/list_changed",
    ] {
        assert!(
            recorded.contains(seen),
            "{seen} not in the recorded traffic"
        );
    }
    assert_no_canary(&[
        ("the HTTP traffic", &recorded),
        ("the client's stderr", &run.stderr),
        ("keyport's log", &w.server.log()),
    ]);
}

/// One HTTP exchange at `/mcp`: status, body (JSON when it is), session id.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    session: Option<String>,
}

fn post(w: &World, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/mcp", w.server.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut response = agent()
        .run(req.body(body.to_string()).expect("request"))
        .expect("POST /mcp");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status: response.status().as_u16(),
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        session,
    }
}

/// An initialized session of `key`: the headers every later request sends.
pub(super) fn open(w: &World, key: &str) -> Vec<(&'static str, String)> {
    let auth = format!("Bearer {key}");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    let opened = post(w, &[("authorization", &auth)], &init.to_string());
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(
        opened.body["result"]["protocolVersion"], "2025-11-25",
        "{}",
        opened.body
    );
    let session = opened.session.expect("a session id");
    let headers = vec![
        ("authorization", auth),
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25".to_string()),
    ];
    let note = post(
        w,
        &borrowed(&headers),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(note.status, 202, "{}", note.body);
    headers
}

fn borrowed<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

pub(super) fn rpc(
    w: &World,
    headers: &[(&'static str, String)],
    id: u64,
    method: &str,
    params: Value,
) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post(w, &borrowed(headers), &body.to_string())
}

fn still_serving(w: &World, headers: &[(&'static str, String)]) {
    let pong = rpc(w, headers, 99, "ping", json!({}));
    assert_eq!(
        (pong.status, &pong.body["result"]),
        (200, &json!({})),
        "{}",
        pong.body
    );
}

/// The GitHub stand-in's count of requests.
pub(super) fn upstream_calls(w: &World) -> usize {
    let seen = get_json(&format!("{}/__requests", w.github.url));
    seen.as_array().map_or(0, Vec::len)
}

/// A raw HTTP/1.1 exchange, for headers a client library would not let through.
fn raw(w: &World, request: &str) -> (u16, String) {
    let addr = w.server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn mcp_over_http_refuses_no_key_a_hostile_host_a_foreign_origin_and_the_wrong_keys() {
    let w = world();
    let alice = entity_key(&w.server, "alice agent", "alice")["key"]
        .as_str()
        .expect("key")
        .to_string();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
    .to_string();
    let bearer = format!("Bearer {alice}");
    // No key, or one keyport never issued.
    for headers in [vec![], vec![("authorization", "Bearer kp_nope")]] {
        let refused = post(&w, &headers, &init);
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.session.is_none());
    }
    // A hostile Host (DNS rebinding) and a foreign Origin, on every method.
    let port = w.server.url.rsplit(':').next().expect("port");
    for method in ["POST", "GET", "DELETE"] {
        let request = format!(
            "{method} /mcp HTTP/1.1\r\nHost: rebound.example:{port}\r\nAuthorization: {bearer}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{init}",
            init.len()
        );
        let (status, answer) = raw(&w, &request);
        assert_eq!(status, 403, "{answer}");
        assert!(answer.contains("Host"), "{answer}");
        let request = format!(
            "{method} /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n\
             Authorization: {bearer}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{init}",
            init.len()
        );
        let (status, answer) = raw(&w, &request);
        assert_eq!(status, 403, "{answer}");
        assert!(answer.contains("cross-origin"), "{answer}");
    }
    // keyport's own origin is not foreign.
    let own = post(
        &w,
        &[("authorization", &bearer), ("origin", &w.server.url)],
        &init,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    // Keys that may not run tools: the admin key, a key for every entity, a reveal key.
    let anyone = w.server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "anyone", "permission": "use"})),
    );
    let reveal = w.server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "revealer", "permission": "reveal", "entityId": "alice"})),
    );
    for (key, why) in [
        (w.server.admin.clone(), "admin permission"),
        (
            anyone["key"].as_str().expect("key").to_string(),
            "not restricted",
        ),
        (
            reveal["key"].as_str().expect("key").to_string(),
            "reveal permission",
        ),
    ] {
        let refused = post(&w, &[("authorization", &format!("Bearer {key}"))], &init);
        assert_eq!(refused.status, 403, "{}", refused.body);
        let said = refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(said.contains(why), "{said}");
    }
    assert_eq!(upstream_calls(&w), 0);
}

#[test]
fn a_session_and_its_tools_are_its_keys_alone() {
    let w = world();
    let key = |entity: &str| {
        entity_key(&w.server, &format!("{entity} agent"), entity)["key"]
            .as_str()
            .expect("key")
            .to_string()
    };
    let (alice, bob) = (open(&w, &key("alice")), open(&w, &key("bob")));
    // bob's key naming alice's session is told there is no such session.
    let mut stolen = bob.clone();
    stolen[1].1 = alice[1].1.clone();
    let refused = rpc(&w, &stolen, 2, "tools/list", json!({}));
    assert_eq!(refused.status, 404, "{}", refused.body);
    // bob's tools act for bob: his list, and alice's connection is out of reach.
    let call = |headers, name: &str, arguments: Value| {
        rpc(
            &w,
            headers,
            3,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
    };
    let listed = call(&bob, "keyport_list_connections", json!({}));
    let text = listed.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains(&w.bob) && !text.contains(&w.alice), "{text}");
    let before = upstream_calls(&w);
    let reach = json!({"connected_account_id": w.alice, "method": "GET", "endpoint": "/user"});
    let refused = call(&bob, "keyport_proxy", reach);
    assert_eq!(refused.body["result"]["isError"], true, "{}", refused.body);
    assert_eq!(upstream_calls(&w), before, "alice's connection was used");
    // alice's own call goes through with her token.
    let user = call(&alice, "GITHUB_GET_THE_AUTHENTICATED_USER", json!({}));
    assert_eq!(user.body["result"]["isError"], false, "{}", user.body);
    assert_last_sent_as_alice(&w.github);
    // DELETE ends the session; it is gone after.
    let mut req = ureq::http::Request::builder()
        .method("DELETE")
        .uri(format!("{}/mcp", w.server.url));
    for (name, value) in borrowed(&alice) {
        req = req.header(name, value);
    }
    let ended = agent().run(req.body(()).expect("request")).expect("DELETE");
    assert_eq!(ended.status().as_u16(), 204);
    let gone = rpc(&w, &alice, 4, "ping", json!({}));
    assert_eq!(gone.status, 404, "{}", gone.body);
    still_serving(&w, &bob);
}

#[test]
fn bad_messages_over_http_get_the_right_error_and_the_server_keeps_serving() {
    let w = world();
    let key = entity_key(&w.server, "alice agent", "alice");
    let headers = open(&w, key["key"].as_str().expect("key"));
    let send = |body: &str| post(&w, &borrowed(&headers), body);
    let code = |a: &Answer| a.body["error"]["code"].as_i64().unwrap_or_default();
    let before = upstream_calls(&w);

    let not_json = send(r#"{"jsonrpc":"2.0","id":2,"method":"#);
    assert_eq!(
        (not_json.status, code(&not_json)),
        (400, -32700),
        "{}",
        not_json.body
    );
    still_serving(&w, &headers);
    let batch = send(r#"[{"jsonrpc":"2.0","id":3,"method":"ping"}]"#);
    assert_eq!(
        (batch.status, code(&batch)),
        (400, -32600),
        "{}",
        batch.body
    );
    let not_rpc = send(r#"{"jsonrpc":"2.0","id":4,"nonsense":true}"#);
    assert_eq!(
        (not_rpc.status, code(&not_rpc)),
        (400, -32600),
        "{}",
        not_rpc.body
    );
    let pad = "x".repeat(600 * 1024);
    let huge = json!({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": pad}});
    let huge = send(&huge.to_string());
    assert_eq!(huge.status, 413, "{}", huge.body);
    still_serving(&w, &headers);

    let unknown = rpc(&w, &headers, 6, "no/such/method", json!({}));
    assert_eq!(
        (unknown.status, code(&unknown)),
        (200, -32601),
        "{}",
        unknown.body
    );
    assert_eq!(unknown.body["id"], 6);
    let tool = rpc(
        &w,
        &headers,
        7,
        "tools/call",
        json!({"name": "keyport_nope"}),
    );
    assert_eq!(code(&tool), -32602, "{}", tool.body);
    let nameless = rpc(&w, &headers, 8, "tools/call", json!({"arguments": {}}));
    assert_eq!(code(&nameless), -32602, "{}", nameless.body);
    let invalid = rpc(
        &w,
        &headers,
        9,
        "tools/call",
        json!({"name": "GITHUB_CREATE_AN_ISSUE",
        "arguments": {"owner": "o", "repo": "r", "title": 7}}),
    );
    assert_eq!(invalid.body["result"]["isError"], true, "{}", invalid.body);
    let said = invalid.body["result"]["content"][0]["text"].to_string();
    assert!(
        said.contains("title") && said.contains("nothing was sent"),
        "{said}"
    );
    assert_eq!(upstream_calls(&w), before, "an invalid call was sent");

    // The session rules: no id, an unknown id, a revision keyport does not speak.
    let mut no_session = headers.clone();
    no_session.remove(1);
    let missing = rpc(&w, &no_session, 10, "ping", json!({}));
    assert_eq!(missing.status, 400, "{}", missing.body);
    let mut unknown_session = headers.clone();
    unknown_session[1].1 = "0".repeat(32);
    let unknown = rpc(&w, &unknown_session, 11, "ping", json!({}));
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let mut future = headers.clone();
    future[2].1 = "2099-01-01".into();
    let refused = rpc(&w, &future, 12, "ping", json!({}));
    assert_eq!(refused.status, 400, "{}", refused.body);
    still_serving(&w, &headers);
    assert_no_canary(&[("keyport's log", &w.server.log())]);
}
