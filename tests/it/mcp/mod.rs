//! keyport as an MCP server, against real MCP clients: the official MCP Python SDK (`mcp`
//! 2.3.0 in tests/peers/requirements-v3.txt; the suite in tests/peers/mcp/client.py) over
//! stdio (`keyport mcp serve`) and over Streamable HTTP (`/mcp`), the MCP Inspector's CLI
//! over both, and raw JSON-RPC for what an SDK never sends. The GitHub stand-in checks the
//! injected credential; the full traffic both ways and keyport's log are searched for every
//! canary credential.

mod http;
mod inspector;
mod remote;
mod restricted;
mod stdio;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::Server;
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
    let connect = |entity: &str, token: &str| server.bearer("github", &github.url, entity, token);
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

/// The tools alice sees with her GitHub connection: keyport's own three and every
/// built-in GitHub action (read from its action file, so adding one needs no edit here).
fn alice_tools() -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/actions/github.json");
    let text = std::fs::read_to_string(file).expect("github actions");
    let actions: Value = serde_json::from_str(&text).expect("github actions JSON");
    let mut tools: Vec<String> = [
        "keyport_proxy",
        "keyport_list_connections",
        "keyport_connect",
    ]
    .map(String::from)
    .to_vec();
    for action in actions["actions"].as_array().expect("actions") {
        tools.push(action["name"].as_str().expect("name").to_string());
    }
    assert!(tools.contains(&"GITHUB_CREATE_AN_ISSUE".to_string()));
    tools
}

/// The GitHub stand-in's last request carried alice's token, injected by keyport.
fn assert_last_sent_as_alice(github: &Peer) {
    let seen = crate::common::client::get_json(&format!("{}/__requests", github.url));
    let last = seen
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last["headers"]["authorization"],
        format!("Bearer {ALICE_TOKEN}")
    );
}

/// The tools a `tools/list` answer offers, which must include GitHub's reads and leave out
/// its writes.
fn assert_offers_reads_not_writes(listed: &Value) -> Vec<&str> {
    let names = crate::common::mcp::tool_names(listed);
    assert!(
        names.contains(&"GITHUB_GET_THE_AUTHENTICATED_USER"),
        "{names:?}"
    );
    assert!(!names.contains(&"GITHUB_CREATE_AN_ISSUE"), "{names:?}");
    names
}

/// A `use` key restricted to `entity`, made with the admin key: the API's answer.
fn entity_key(server: &Server, name: &str, entity: &str) -> Value {
    server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": name, "permission": "use", "entityId": entity})),
    )
}

/// Runs tests/peers/mcp/client.py with `config` (plus what every run shares) in `dir`, and
/// checks that every check passed and the gmail connection went through the real
/// authorization server.
fn python_suite(w: &World, dir: &Path, mut config: Value) -> Run {
    let python = peers::python_v3_having("mcp", "2.3.0");
    let shared = json!({
        "server": w.server.url, "github": w.github.url, "github_token": ALICE_TOKEN,
        "tools": alice_tools(), "alice_connection": w.alice, "bob_connection": w.bob,
    });
    for (name, value) in shared.as_object().expect("object") {
        config[name] = value.clone();
    }
    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(peers::dir().join("mcp/client.py"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("KEYPORT_MCP_TEST", config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run: Run = crate::sdk3::run(cmd);
    assert_suite(&run, EXPECTED, &w.server);
    let stats = w.idp.stats();
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    run
}
