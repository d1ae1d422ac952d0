//! `/mcp` on `keyport serve`: the Python SDK's suite over Streamable HTTP (every byte
//! recorded), and raw HTTP for the refusals and the messages an SDK never sends.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};

use super::{World, assert_last_sent_as_alice, assert_no_canary, entity_key, python_suite, world};
use crate::common::client::{agent, get_json};
use crate::common::mcp::{Answer, borrowed, initialize, open, post, rpc};

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

fn still_serving(w: &World, headers: &[(&'static str, String)]) {
    let pong = rpc(&w.server.url, headers, 99, "ping", json!({}));
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
    let init = initialize().to_string();
    let bearer = format!("Bearer {alice}");
    // No key, or one keyport never issued.
    for headers in [vec![], vec![("authorization", "Bearer kp_nope")]] {
        let refused = post(&w.server.url, &headers, &init);
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
        &w.server.url,
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
        let refused = post(
            &w.server.url,
            &[("authorization", &format!("Bearer {key}"))],
            &init,
        );
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
    let (alice, bob) = (
        open(&w.server.url, &key("alice")),
        open(&w.server.url, &key("bob")),
    );
    // bob's key naming alice's session is told there is no such session.
    let mut stolen = bob.clone();
    stolen[1].1 = alice[1].1.clone();
    let refused = rpc(&w.server.url, &stolen, 2, "tools/list", json!({}));
    assert_eq!(refused.status, 404, "{}", refused.body);
    // bob's tools act for bob: his list, and alice's connection is out of reach.
    let call = |headers, name: &str, arguments: Value| {
        rpc(
            &w.server.url,
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
    let gone = rpc(&w.server.url, &alice, 4, "ping", json!({}));
    assert_eq!(gone.status, 404, "{}", gone.body);
    still_serving(&w, &bob);
}

#[test]
fn bad_messages_over_http_get_the_right_error_and_the_server_keeps_serving() {
    let w = world();
    let key = entity_key(&w.server, "alice agent", "alice");
    let headers = open(&w.server.url, key["key"].as_str().expect("key"));
    let before = upstream_calls(&w);
    bodies_that_are_not_one_request(&w, &headers);
    bad_requests_and_tool_calls(&w, &headers);
    assert_eq!(upstream_calls(&w), before, "an invalid call was sent");
    session_rules(&w, &headers);
    assert_no_canary(&[("keyport's log", &w.server.log())]);
}

/// The JSON-RPC error code of an answer.
fn code(a: &Answer) -> i64 {
    a.body["error"]["code"].as_i64().unwrap_or_default()
}

/// Not JSON, a batch, not JSON-RPC, too large: each refused with its status (and code), the
/// session serving after each.
fn bodies_that_are_not_one_request(w: &World, headers: &[(&'static str, String)]) {
    let pad = "x".repeat(600 * 1024);
    let huge = json!({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": pad}});
    for (body, status, error) in [
        (
            r#"{"jsonrpc":"2.0","id":2,"method":"#.to_string(),
            400,
            -32700,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":3,"method":"ping"}]"#.to_string(),
            400,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"nonsense":true}"#.to_string(),
            400,
            -32600,
        ),
    ] {
        let answer = post(&w.server.url, &borrowed(headers), &body);
        assert_eq!(
            (answer.status, code(&answer)),
            (status, error),
            "{}",
            answer.body
        );
        still_serving(w, headers);
    }
    let huge = post(&w.server.url, &borrowed(headers), &huge.to_string());
    assert_eq!(huge.status, 413, "{}", huge.body);
    still_serving(w, headers);
}

/// An unknown method, an unknown or nameless tool, and a tool call whose arguments break
/// its schema (a tool result saying nothing was sent).
fn bad_requests_and_tool_calls(w: &World, headers: &[(&'static str, String)]) {
    let unknown = rpc(&w.server.url, headers, 6, "no/such/method", json!({}));
    assert_eq!(
        (unknown.status, code(&unknown)),
        (200, -32601),
        "{}",
        unknown.body
    );
    assert_eq!(unknown.body["id"], 6);
    let call = |id: u64, params: Value| rpc(&w.server.url, headers, id, "tools/call", params);
    let tool = call(7, json!({"name": "keyport_nope"}));
    assert_eq!(code(&tool), -32602, "{}", tool.body);
    let nameless = call(8, json!({"arguments": {}}));
    assert_eq!(code(&nameless), -32602, "{}", nameless.body);
    let invalid = call(
        9,
        json!({"name": "GITHUB_CREATE_AN_ISSUE",
        "arguments": {"owner": "o", "repo": "r", "title": 7}}),
    );
    assert_eq!(invalid.body["result"]["isError"], true, "{}", invalid.body);
    let said = invalid.body["result"]["content"][0]["text"].to_string();
    assert!(
        said.contains("title") && said.contains("nothing was sent"),
        "{said}"
    );
}

/// The session rules: no id, an unknown id, a revision keyport does not speak.
fn session_rules(w: &World, headers: &[(&'static str, String)]) {
    let mut no_session = headers.to_vec();
    no_session.remove(1);
    let mut unknown_session = headers.to_vec();
    unknown_session[1].1 = "0".repeat(32);
    let mut future = headers.to_vec();
    future[2].1 = "2099-01-01".into();
    for (id, headers, status) in [
        (10, no_session, 400),
        (11, unknown_session, 404),
        (12, future, 400),
    ] {
        let answer = rpc(&w.server.url, &headers, id, "ping", json!({}));
        assert_eq!(answer.status, status, "{}", answer.body);
    }
    still_serving(w, headers);
}
