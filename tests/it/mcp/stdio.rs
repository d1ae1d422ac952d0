//! `keyport mcp serve`: the Python SDK's suite over stdio, and raw JSON-RPC lines.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    NOTION_KEY, World, assert_last_sent_as_alice, assert_no_canary, assert_offers_reads_not_writes,
    entity_key, mcp_args, python_suite, world,
};
use crate::common::client::get_json;

#[test]
fn the_python_mcp_sdk_uses_keyport_over_stdio() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    // The host spawns a shell that records both directions of the stdio traffic.
    let mut command = vec![
        "sh".to_string(),
        "-c".to_string(),
        r#"tee "$0/in.jsonl" | "$@" | tee "$0/out.jsonl""#.to_string(),
        tmp.path().display().to_string(),
    ];
    command.extend(mcp_args(&w.server, &[]));
    let config = json!({"transport": "stdio", "command": command});
    let run = python_suite(&w, tmp.path(), config);

    let read = |name: &str| std::fs::read_to_string(tmp.path().join(name)).expect(name);
    let (sent, received) = (read("in.jsonl"), read("out.jsonl"));
    assert!(
        received.contains("GITHUB_CREATE_AN_ISSUE"),
        "no traffic recorded"
    );
    assert_no_canary(&[
        ("the host's messages", &sent),
        ("keyport's messages", &received),
        ("the MCP server's stderr", &run.stderr),
        ("keyport's log", &w.server.log()),
    ]);
    // The session ran under its own key: `use`, alice's, named after the process, and
    // revoked when the host closed the session.
    let keys = w.server.ok("GET", "/api/v1/keys", None);
    let session: Vec<&Value> = keys["items"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| {
            k["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("mcp serve for alice (pid "))
        })
        .collect();
    assert_eq!(session.len(), 1, "{keys}");
    assert_eq!(session[0]["permission"], "use", "{keys}");
    assert_eq!(session[0]["entityId"], "alice", "{keys}");
    assert!(session[0]["revokedAt"].is_string(), "not revoked: {keys}");
}

/// `keyport mcp serve` with piped stdio, read line by line on a thread.
struct Raw {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    traffic: String,
}

impl Raw {
    fn start(args: &[String]) -> Raw {
        let mut child = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keyport mcp serve");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Raw {
            child,
            stdin,
            lines,
            traffic: String::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).expect("write");
        self.stdin.write_all(b"\n").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next message keyport writes.
    fn next(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("an answer within 20 s");
        self.traffic.push_str(&line);
        serde_json::from_str(&line).expect("keyport writes JSON")
    }

    /// Sends a request and reads its answer, which must be the next message.
    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let answer = self.next();
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// A ping answered next: nothing was said about what came before, and it still serves.
    fn still_serving(&mut self, id: u64) {
        let answer = self.request(id, "ping", json!({}));
        assert_eq!(answer["result"], json!({}), "{answer}");
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `key` (an API answer with the key) into a file in `dir`.
fn key_file(dir: &Path, name: &str, key: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, key["key"].as_str().expect("key")).expect("key file");
    path.display().to_string()
}

/// A raw session with `--key-file` (a `use` key of alice's), initialized as a host with URL
/// elicitation; also the key.
fn raw_session(w: &World, tmp: &Path) -> (Raw, String) {
    let key = entity_key(&w.server, "mcp-raw", "alice");
    let file = key_file(tmp, "key", &key);
    let mut raw = Raw::start(&mcp_args(&w.server, &["--key-file", &file]));
    let init = raw.request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"url": {}}},
            "clientInfo": {"name": "raw", "version": "0"}}),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "keyport", "{init}");
    raw.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    (raw, key["key"].as_str().expect("key").to_string())
}

/// No canary, and not the session's key, in its traffic or keyport's log.
fn assert_nothing_leaked(w: &World, raw: &Raw, key: &str) {
    let log = w.server.log();
    assert_no_canary(&[
        ("keyport's messages", &raw.traffic),
        ("keyport's log", &log),
    ]);
    assert!(
        !raw.traffic.contains(key) && !log.contains(key),
        "the API key leaked"
    );
}

#[test]
fn a_key_file_must_hold_a_use_key_restricted_to_the_entity() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let anyone = w.server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "mcp-anyone", "permission": "use"})),
    );
    let anyone = key_file(tmp.path(), "anyone", &anyone);
    let admin = w.server.dir.join("admin.key").display().to_string();
    for (file, why) in [(admin, "admin permission"), (anyone, "not restricted")] {
        let args = mcp_args(&w.server, &["--key-file", &file]);
        let out = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .expect("run keyport mcp serve");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && said.contains(why), "{said}");
        assert!(out.stdout.is_empty());
    }
}

/// A key file's restrictions reach the stdio session's tool list (read from the key's
/// own `client_info`): a read-only key is not offered GitHub's writes.
#[test]
fn a_read_only_key_files_session_lists_only_reads() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let body = json!({"name": "mcp-reader", "permission": "use", "entityId": "alice",
        "allowedMethods": ["GET", "HEAD"]});
    let key = w.server.ok("POST", "/api/v1/keys", Some(&body));
    let file = key_file(tmp.path(), "reader", &key);
    let mut raw = Raw::start(&mcp_args(&w.server, &["--key-file", &file]));
    let init = raw.request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "keyport", "{init}");
    raw.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let listed = raw.request(2, "tools/list", json!({}));
    assert_offers_reads_not_writes(&listed);
}

/// Also: the session runs under the key from `--key-file`.
#[test]
fn bad_json_rpc_gets_the_right_error_and_the_session_goes_on() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut raw, key) = raw_session(&w, tmp.path());
    // Not JSON: no id to answer, so no answer (as the official SDKs do).
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"#);
    raw.still_serving(3);
    // JSON but not JSON-RPC: Invalid Request.
    raw.send(r#"{"jsonrpc":"2.0","id":4,"nonsense":true}"#);
    assert_eq!(raw.next()["error"]["code"], -32600);
    raw.still_serving(5);
    // A line past the limit is dropped whole.
    let pad = "x".repeat(600 * 1024);
    raw.send(
        &json!({"jsonrpc": "2.0", "id": 6, "method": "ping", "params": {"pad": pad}}).to_string(),
    );
    raw.still_serving(7);
    let unknown = raw.request(8, "no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let call = |name: &str, arguments: Value| json!({"name": name, "arguments": arguments});
    let tool = raw.request(9, "tools/call", call("keyport_nope", json!({})));
    assert_eq!(tool["error"]["code"], -32602, "{tool}");

    let requests = || get_json(&format!("{}/__requests", w.github.url));
    let before = requests();
    let bad = json!({"owner": "o", "repo": "r", "title": 7});
    let invalid = raw.request(10, "tools/call", call("GITHUB_CREATE_AN_ISSUE", bad));
    assert_eq!(invalid["result"]["isError"], true, "{invalid}");
    let said = invalid["result"]["content"][0]["text"].to_string();
    assert!(
        said.contains("title") && said.contains("nothing was sent"),
        "{said}"
    );
    assert_eq!(requests(), before);

    // The key from the file does the work, and the stand-in sees alice's token.
    let user = raw.request(
        11,
        "tools/call",
        call("GITHUB_GET_THE_AUTHENTICATED_USER", json!({})),
    );
    assert_eq!(user["result"]["isError"], false, "{user}");
    assert!(
        user["result"]["content"][0]["text"]
            .to_string()
            .contains("keyport-octocat")
    );
    assert_last_sent_as_alice(&w.github);
    raw.still_serving(12);
    assert_nothing_leaked(&w, &raw, &key);
}

#[test]
fn a_url_elicitation_host_is_shown_the_link_and_new_tools_are_announced() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut raw, key) = raw_session(&w, tmp.path());
    // A host that supports URL elicitation is asked to show the connect link itself.
    raw.send(
        &json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call",
        "params": {"name": "keyport_connect", "arguments": {"app": "gmail"}}})
        .to_string(),
    );
    let ask = raw.next();
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    assert_eq!(ask["params"]["mode"], "url", "{ask}");
    let url = ask["params"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with(&format!("{}/", w.server.url)), "{ask}");
    raw.send(
        &json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept"}}).to_string(),
    );
    let linked = raw.next();
    assert_eq!(linked["id"], 20, "{linked}");
    let text = linked["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let link: Value = serde_json::from_str(text).expect("the link as JSON");
    assert_eq!(link["elicitation"], "accept", "{link}");
    assert_eq!(link["url"], url, "{link}");

    // alice connects Notion: the host is told, and Notion's actions are listed.
    let listed = |raw: &mut Raw, id| {
        let answer = raw.request(id, "tools/list", json!({}));
        let tools = answer["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        tools.iter().any(|t| t["name"] == "NOTION_SEARCH")
    };
    assert!(!listed(&mut raw, 13));
    let notion = json!({"api_key": NOTION_KEY});
    w.server.connect(
        "notion",
        "API_KEY",
        &w.github.url,
        json!({}),
        "alice",
        notion,
    );
    let changed = raw.next();
    assert_eq!(
        changed["method"], "notifications/tools/list_changed",
        "{changed}"
    );
    assert!(listed(&mut raw, 14));
    assert_nothing_leaked(&w, &raw, &key);
}
