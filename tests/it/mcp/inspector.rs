//! The MCP Inspector in CLI mode (tests/peers/inspector) as a second client, over stdio
//! and over Streamable HTTP: the tools, a GitHub action and `keyport_proxy` through the
//! stand-in, the connection list, and a connect link completed in Chromium against the
//! real OAuth server, after which the app's tools are listed.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{ALICE_TOKEN, assert_no_canary, entity_key, mcp_args, world};
use crate::common::client::get_json;
use crate::common::peers::{self, drive};

/// The MCP Inspector in CLI mode (tests/peers/inspector), one request per run, against
/// `target` (its arguments naming the server), with `home` as its home directory.
fn inspector(target: &[String], home: &Path, more: &[&str]) -> Value {
    let dir = peers::dir().join("inspector");
    let node = dir.join("node_modules/node/bin/node");
    let cli =
        dir.join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    assert!(
        node.exists() && cli.exists(),
        "{} has no node_modules: run tests/run.sh (npm ci there brings the Inspector 2.12.0 \
         and Node 22)",
        dir.display()
    );
    let out = Command::new(node)
        .arg(cli)
        .arg("--cli")
        .args(target)
        .args(more)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("run the Inspector");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Inspector exited with {}:\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_canary(&[("the Inspector's output", &stdout)]);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The Inspector's answer to calling `tool` with `args` (each `name=value`).
fn call_tool(target: &[String], home: &Path, tool: &str, args: &[&str]) -> Value {
    let mut more = vec!["--method", "tools/call", "--tool-name", tool];
    for arg in args {
        more.extend(["--tool-arg", arg]);
    }
    inspector(target, home, &more)
}

/// Lists alice's tools, calls a GitHub action and keyport_proxy through `target`: both
/// reach the stand-in with alice's token.
fn lists_and_calls(w: &super::World, target: &[String], home: &Path) {
    let listed = inspector(target, home, &["--method", "tools/list"]);
    let tools = listed["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names.len(), super::alice_tools().len(), "{names:?}");
    assert!(names.contains(&"GITHUB_CREATE_AN_ISSUE") && names.contains(&"keyport_proxy"));
    let user = tools
        .iter()
        .find(|t| t["name"] == "GITHUB_GET_THE_AUTHENTICATED_USER")
        .expect("user tool");
    assert_eq!(user["annotations"]["readOnlyHint"], true, "{user}");

    let called = call_tool(target, home, "GITHUB_GET_THE_AUTHENTICATED_USER", &[]);
    assert_ne!(called["isError"], true, "{called}");
    assert!(called.to_string().contains("keyport-octocat"), "{called}");
    let proxied = call_tool(
        target,
        home,
        "keyport_proxy",
        &["app=github", "method=GET", "endpoint=/user"],
    );
    assert_ne!(proxied["isError"], true, "{proxied}");
    assert!(proxied.to_string().contains("keyport-octocat"), "{proxied}");
    let seen = get_json(&format!("{}/__requests", w.github.url));
    let sent = seen.as_array().expect("requests");
    assert_eq!(sent.len(), 2, "{seen}");
    for request in sent {
        assert_eq!(
            request["headers"]["authorization"],
            format!("Bearer {ALICE_TOKEN}")
        );
    }
    connects_gmail(w, target, home);
    assert_no_canary(&[("keyport's log", &w.server.log())]);
}

/// The text of a tool call's first content block, as JSON.
fn tool_json(called: &Value) -> Value {
    assert_ne!(called["isError"], true, "{called}");
    let text = called["content"][0]["text"].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {called}"))
}

/// alice's connections through `keyport_list_connections`, then a gmail link from
/// `keyport_connect` that Chromium completes at the real authorization server: gmail's
/// tools are listed after.
fn connects_gmail(w: &super::World, target: &[String], home: &Path) {
    let call = |tool: &str, args: &[&str]| tool_json(&call_tool(target, home, tool, args));
    let listed = call("keyport_list_connections", &[]);
    let apps: Vec<(&Value, &Value)> = listed["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| (&c["app"], &c["status"]))
        .collect();
    assert_eq!(apps, [(&json!("github"), &json!("ACTIVE"))], "{listed}");
    let link = call("keyport_connect", &["app=gmail"]);
    let url = link["url"].as_str().expect("a connect link");
    assert!(
        url.starts_with(&format!("{}/connect/", w.server.url)),
        "{link}"
    );
    drive(url, &["--expect-text", "Connected"]);
    let listed = inspector(target, home, &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"GMAIL_SEND_EMAIL"), "{names:?}");
}

#[test]
fn the_mcp_inspector_cli_uses_keyport_over_stdio() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let args = mcp_args(&w.server, &[]);
    let config = tmp.path().join("mcp.json");
    let servers = json!({"mcpServers": {"keyport": {"command": args[0], "args": args[1..]}}});
    std::fs::write(&config, servers.to_string()).expect("config");
    let target = [
        "--config".to_string(),
        config.display().to_string(),
        "--server".to_string(),
        "keyport".to_string(),
    ];
    lists_and_calls(&w, &target, tmp.path());
}

#[test]
fn the_mcp_inspector_cli_uses_keyport_over_streamable_http() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = entity_key(&w.server, "inspector", "alice");
    let target = [
        format!("{}/mcp", w.server.url),
        "--transport".to_string(),
        "http".to_string(),
        "--header".to_string(),
        format!(
            "Authorization: Bearer {}",
            key["key"].as_str().expect("key")
        ),
    ];
    lists_and_calls(&w, &target, tmp.path());
}
