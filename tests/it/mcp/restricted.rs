//! A restricted key's tools: the list offers only what the key may run, and a call to
//! anything else (named anyway) is refused by the same rule as the API, as a tool result
//! naming the restriction, with nothing sent to the provider; what the key allows goes
//! through.

use serde_json::{Value, json};

use super::http::upstream_calls;
use super::{assert_offers_reads_not_writes, world};
use crate::common::mcp::{open, rpc};

#[test]
fn a_restricted_keys_tool_calls_name_the_restriction_and_send_nothing() {
    let w = world();
    let body = json!({"name": "reader", "permission": "use", "entityId": "alice",
        "allowedApps": ["github"], "allowedMethods": ["GET"], "expiresIn": 600});
    let key = w.server.ok("POST", "/api/v1/keys", Some(&body))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let session = open(&w.server.url, &key);
    let call = |name: &str, arguments: Value| {
        let answer = rpc(
            &w.server.url,
            &session,
            7,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let result = answer.body["result"].clone();
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (result["isError"] == true, text)
    };
    // The list offers only what the key may run: GitHub's reads, not its writes.
    let listed = rpc(&w.server.url, &session, 6, "tools/list", json!({}));
    let names = assert_offers_reads_not_writes(&listed.body);
    assert!(names.contains(&"keyport_proxy"), "{names:?}");
    let before = upstream_calls(&w);
    for (name, arguments, restriction) in [
        (
            "keyport_proxy",
            json!({"app": "github", "method": "POST", "endpoint": "/user/repos", "body": {"name": "x"}}),
            "allowedMethods",
        ),
        (
            "GITHUB_CREATE_AN_ISSUE",
            json!({"owner": "o", "repo": "r", "title": "t"}),
            "allowedMethods",
        ),
        ("keyport_connect", json!({"app": "gmail"}), "allowedApps"),
    ] {
        let (failed, text) = call(name, arguments);
        assert!(failed && text.contains(restriction), "{name}: {text}");
    }
    assert_eq!(
        upstream_calls(&w),
        before,
        "a refused tool call reached GitHub"
    );
    let (failed, text) = call("GITHUB_GET_THE_AUTHENTICATED_USER", json!({}));
    assert!(!failed, "{text}");
    let (failed, text) = call(
        "keyport_proxy",
        json!({"app": "github", "method": "GET", "endpoint": "/user"}),
    );
    assert!(!failed, "{text}");
    assert_eq!(upstream_calls(&w), before + 2);
}
