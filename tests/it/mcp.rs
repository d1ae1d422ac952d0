//! keyport as an MCP server over stdio (`keyport mcp serve`), against the official MCP
//! Python SDK (`mcp` 2.3.0 in tests/peers/requirements-v3.txt; the suite in
//! tests/peers/mcp/stdio.py) and against raw JSON-RPC lines for what an SDK never sends.
//! The GitHub stand-in checks the injected credential; the full traffic both ways, the
//! MCP server's stderr and keyport's debug log are searched for every canary credential.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::client::get_json;
use crate::common::peers::{self, OidcProvider, Peer};
use crate::sdk::{Run, assert_suite};

const ALICE_TOKEN: &str = "ghp_keyportMcpAliceCanary0000000000000";
const BOB_TOKEN: &str = "ghp_keyportMcpBobCanary00000000000000000";
const GMAIL_SECRET: &str = "keyport-mcp-gmail-secret-canary-5e1";
const NOTION_KEY: &str = "secret_keyportMcpNotionCanary0000";
const CANARIES: [&str; 4] = [ALICE_TOKEN, BOB_TOKEN, GMAIL_SECRET, NOTION_KEY];

const EXPECTED: &[&str] = &[
    "ok: initialize: keyport, tools capability",
    "ok: tools/list: exactly alice's tools, with schemas and annotations",
    "ok: tools/call GITHUB_CREATE_AN_ISSUE through the stand-in, credential injected",
    "ok: keyport_proxy GET /user with a header; a 404 is an error result with status and body",
    "ok: keyport_list_connections: alice's own connection only",
    "ok: keyport_connect: a connect link; no integration says so",
    "ok: an app without a connection: says so, with a connect link, nothing sent",
    "ok: bob's connection is out of reach, nothing sent",
    "ok: schema-invalid arguments name the field, nothing sent",
    "ok: an unknown tool is a JSON-RPC error and the server keeps serving",
    "ok: keyport_connect -> Chromium -> the real OAuth server -> tools/list_changed, gmail's tools",
];

/// keyport with GitHub connections for alice and bob (each with its own canary token, both
/// through the stand-in) and a gmail OAuth integration nobody has connected yet, through the
/// real authorization server (the oidc-provider).
struct World {
    server: Server,
    github: Peer,
    idp: OidcProvider,
    alice: String,
    bob: String,
}

fn world() -> World {
    let server = Server::start();
    let github = Peer::start("sdk/github.py", &json!({"token": ALICE_TOKEN}));
    let connect = |entity: &str, token: &str| {
        server.connect(
            "github",
            "BEARER_TOKEN",
            &github.url,
            json!({}),
            entity,
            json!({"token": token}),
        )
    };
    let (alice, bob) = (connect("alice", ALICE_TOKEN), connect("bob", BOB_TOKEN));
    let idp = OidcProvider::start(
        ("keyport-mcp", GMAIL_SECRET),
        &format!("{}/callback/gmail", server.url),
        None,
    );
    let issuer = &idp.issuer;
    server.integration(
        json!({"appName": "gmail", "authScheme": "OAUTH2", "authConfig": {
        "client_id": "keyport-mcp", "client_secret": GMAIL_SECRET,
        "authorization_url": format!("{issuer}/auth"), "token_url": format!("{issuer}/token"),
        "scopes": ["openid", "offline_access"], "authorization_params": {"prompt": "consent"}}}),
    );
    World {
        server,
        github,
        idp,
        alice,
        bob,
    }
}

/// `keyport mcp serve --entity alice` for `server`, with more arguments.
fn mcp_args(server: &Server, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        crate::common::bin().to_string(),
        "--data-dir".into(),
        server.dir.display().to_string(),
        "--url".into(),
        server.url.clone(),
        "mcp".into(),
        "serve".into(),
        "--entity".into(),
        "alice".into(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

/// No canary anywhere in `texts` (each named for the failure message).
fn assert_no_canary(texts: &[(&str, &str)]) {
    for (what, text) in texts {
        for canary in CANARIES {
            assert!(!text.contains(canary), "a credential in {what}");
        }
    }
}

#[test]
fn the_python_mcp_sdk_uses_keyport_over_stdio() {
    let python = peers::python_v3_having("mcp", "2.3.0");
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
    let mut tools = vec![
        "keyport_proxy",
        "keyport_list_connections",
        "keyport_connect",
    ];
    tools.extend([
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        "GITHUB_CREATE_AN_ISSUE",
        "GITHUB_LIST_REPOSITORIES_FOR_THE_AUTHENTICATED_USER",
        "GITHUB_GET_A_REPOSITORY",
        "GITHUB_LIST_REPOSITORY_ISSUES",
    ]);
    let config = json!({
        "command": command, "server": w.server.url, "github": w.github.url,
        "github_token": ALICE_TOKEN, "tools": tools,
        "alice_connection": w.alice, "bob_connection": w.bob,
    });
    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(peers::dir().join("mcp/stdio.py"))
        .current_dir(tmp.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", tmp.path())
        .env("KEYPORT_MCP_TEST", config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run: Run = crate::sdk3::run(cmd);
    assert_suite(&run, EXPECTED, &w.server);
    // The gmail connection was made through the real authorization server.
    let stats = w.idp.stats();
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");

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
    let key = w.server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "mcp-raw", "permission": "use", "entityId": "alice"})),
    );
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
    let seen = requests();
    let last = seen
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last["headers"]["authorization"],
        format!("Bearer {ALICE_TOKEN}")
    );
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

/// The MCP Inspector in CLI mode (tests/peers/inspector), one request per run, against
/// `keyport mcp serve` for alice.
fn inspector(config: &Path, more: &[&str]) -> Value {
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
        .args(["--cli", "--config"])
        .arg(config)
        .args(["--server", "keyport"])
        .args(more)
        .env("HOME", config.parent().expect("dir"))
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

#[test]
fn the_mcp_inspector_cli_uses_keyport_over_stdio() {
    let w = world();
    let tmp = tempfile::tempdir().expect("tempdir");
    let args = mcp_args(&w.server, &[]);
    let config = tmp.path().join("mcp.json");
    let servers = json!({"mcpServers": {"keyport": {"command": args[0], "args": args[1..]}}});
    std::fs::write(&config, servers.to_string()).expect("config");

    let listed = inspector(&config, &["--method", "tools/list"]);
    let tools = listed["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"GITHUB_CREATE_AN_ISSUE") && names.contains(&"keyport_proxy"));
    let user = tools
        .iter()
        .find(|t| t["name"] == "GITHUB_GET_THE_AUTHENTICATED_USER")
        .expect("user tool");
    assert_eq!(user["annotations"]["readOnlyHint"], true, "{user}");

    let called = inspector(
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "GITHUB_GET_THE_AUTHENTICATED_USER",
        ],
    );
    assert_ne!(called["isError"], true, "{called}");
    assert!(called.to_string().contains("keyport-octocat"), "{called}");
    let proxied = inspector(
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "keyport_proxy",
            "--tool-arg",
            "app=github",
            "--tool-arg",
            "method=GET",
            "--tool-arg",
            "endpoint=/user",
        ],
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
    assert_no_canary(&[("keyport's log", &w.server.log())]);
}
