//! keyport as a drop-in backend for the Composio Python SDK (composio-core 0.7.22,
//! composio-openai 0.7.20, from tests/peers/requirements.txt): the seed documents' snippets,
//! in `tests/peers/sdk/snippets.py`, run unchanged against the real binary, with the real
//! oidc-provider and Chromium for the OAuth step and a GitHub stand-in for the action. An
//! audit hook in the script proves the SDK made no connection off this machine.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Server, agent};

const CLIENT_ID: &str = "keyport-sdk";
const CLIENT_SECRET: &str = "keyport-sdk-secret-51c0";
const GITHUB_TOKEN: &str = "ghp_keyportSdkStandIn0000000000000000";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python, with the pinned SDK importable; fails (never skips) without it.
fn python() -> PathBuf {
    let python = std::env::var_os("KEYPORT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-venv/bin/python"));
    assert!(
        python.exists(),
        "no Python test venv at {}: run tests/run.sh (it creates target/test-venv from \
         tests/peers/requirements.txt and sets KEYPORT_TEST_PYTHON)",
        python.display()
    );
    let probe = Command::new(&python)
        .args([
            "-c",
            "import composio, composio_openai; print(composio.__version__)",
        ])
        .env("COMPOSIO_DISABLE_VERSION_CHECK", "true")
        .output()
        .expect("run the venv's python");
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert!(
        probe.status.success() && version == "0.7.22",
        "{} lacks composio-core 0.7.22 ({version:?}; {}): run tests/run.sh, which installs \
         tests/peers/requirements.txt into the venv",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    python
}

/// A child process killed when the test ends, however it ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the first stdout line of a freshly started peer.
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("peer stdout"))
        .read_line(&mut line)
        .expect("peer's first line");
    line
}

/// The oidc-provider peer, with the one client the script's Gmail integration uses.
fn start_idp(redirect_uri: &str) -> (Peer, String) {
    let dir = root().join("tests/peers/oidc");
    assert!(
        dir.join("node_modules").exists(),
        "run tests/run.sh (it installs the npm peers) first"
    );
    let mut child = Command::new("node")
        .arg(dir.join("server.js"))
        .args(["--port", "0", "--client-id", CLIENT_ID])
        .args([
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            redirect_uri,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs the oidc-provider peer");
    let line = first_line(&mut child);
    let info: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("oidc peer said {line:?}: {e}"));
    let issuer = info["issuer"].as_str().expect("issuer").to_string();
    (Peer(child), issuer)
}

/// The GitHub stand-in (`tests/peers/sdk/github.py`); returns its base URL.
fn start_github(python: &PathBuf) -> (Peer, String) {
    let mut child = Command::new(python)
        .arg(root().join("tests/peers/sdk/github.py"))
        .arg(json!({"token": GITHUB_TOKEN}).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the GitHub stand-in");
    let line = first_line(&mut child);
    let port = line
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("GitHub stand-in said {line:?}"))
        .trim()
        .to_string();
    (Peer(child), format!("http://127.0.0.1:{port}"))
}

fn get_json(url: &str) -> Value {
    agent()
        .get(url)
        .call()
        .expect("GET")
        .body_mut()
        .read_json()
        .expect("JSON")
}

fn create_key(server: &Server, name: &str, permission: &str) -> String {
    let created = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": name, "permission": permission})),
    );
    created["key"].as_str().expect("key").to_string()
}

/// Drives Chromium through the consent at `url` (the connect link the script printed).
fn drive(url: &str) {
    let out = Command::new("node")
        .arg(root().join("tests/peers/oidc/drive.js"))
        .args([url, "--expect-text", "Connected", "--timeout", "15"])
        .output()
        .expect("node runs drive.js");
    assert!(
        out.status.success(),
        "drive.js failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What each snippet check prints when it passes (tests/peers/sdk/snippets.py).
const EXPECTED: &[&str] = &[
    "ok: has_integration ASANA -> False on a fresh vault",
    "ok: fetch_expected_integration_params gmail OAUTH2",
    "ok: create_integration GMAIL OAUTH2 (own client credentials)",
    "ok: create_integration GITHUB OAUTH2 own developer app (scopes list, redirect_uri)",
    "ok: create_integration GITHUB use_composio_oauth_app=True -> HTTP 400 naming client_id",
    "ok: get_expected_params_for_user(integration_id=...) GITHUB OAUTH2 -> []",
    "ok: get_expected_params_for_user(app=GMAIL, auth_scheme=BEARER_TOKEN) -> [token]",
    "ok: initiate_connection GMAIL BEARER_TOKEN, token in auth_config -> ACTIVE",
    "ok: initiate_connection NOTION API_KEY, key given as auth_config token -> ACTIVE",
    "ok: initiate_connection GITHUB OAUTH2 with Composio's OAuth app -> HTTP 400 naming client_id",
    "ok: initiate_connection GMAIL OAUTH2 without auth_config -> HTTP 400 naming client_id",
    "ok: initiate_connection with user-entered params GMAIL BEARER_TOKEN -> ACTIVE",
    "ok: get_entity: default and named entities",
    "ok: initiate_connection GITHUB for an entity (integration id -> ACTIVE, app -> INITIATED)",
    "ok: get_auth_params of a connection: redacted, live only for a reveal key",
    "ok: execute_action GITHUB_CREATE_AN_ISSUE for an entity, through the GitHub stand-in",
    "ok: handle_tool_calls GITHUB_GET_THE_AUTHENTICATED_USER for an entity (composio_openai)",
    "ok: list connected accounts by entity",
    "ok: get_connected_account (the document's example id -> HTTP 404, a real one -> ACTIVE)",
    "ok: initiate_connection OAUTH2 -> INITIATED, browser consent, wait_until_active -> ACTIVE",
    "ok: entity.get_connection(app=GMAIL) and get_connected_account",
    "ok: delete a connection",
    "ok: bad input gets the SDK's own errors, never a 500",
    "ok: actions: listed and fetched as ActionModel; bad names and input are the SDK's errors",
    "ok: create_integration: useComposioAuth=True is ignored for a token scheme",
    "ok: a trailing slash in the base URL (/api//v1/...) works",
    "ok: delete an integration takes its connections with it",
];

#[test]
fn composio_sdk_runs_the_seed_snippets_against_keyport() {
    let python = python();
    let server = Server::start();
    let (_idp, issuer) = start_idp(&format!("{}/callback/gmail", server.url));
    let (_github, github) = start_github(&python);
    let use_key = create_key(&server, "composio-sdk", "use");
    let reveal_key = create_key(&server, "composio-sdk-reveal", "reveal");

    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, home, work) = (
        tmp.path().join("composio"),
        tmp.path().join("home"),
        tmp.path().join("work"),
    );
    for dir in [&cache, &home, &work] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    // An empty Sentry DSN keeps the SDK from fetching one from Composio at import and exit.
    std::fs::write(cache.join("user_data.json"), r#"{"sentry": {"dsn": ""}}"#).expect("seed");

    let mut cmd = Command::new(&python);
    cmd.arg("-u")
        .arg(root().join("tests/peers/sdk/snippets.py"))
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("COMPOSIO_") || name.starts_with("_COMPOSIO_") {
            cmd.env_remove(&name);
        }
    }
    let script = cmd
        .env("HOME", &home)
        .env("COMPOSIO_BASE_URL", format!("{}/api", server.url))
        .env("COMPOSIO_API_KEY", &use_key)
        .env("COMPOSIO_DISABLE_VERSION_CHECK", "true")
        .env("COMPOSIO_CACHE_DIR", &cache)
        .env("KEYPORT_SDK_REVEAL_KEY", &reveal_key)
        .env("KEYPORT_SDK_GITHUB", &github)
        .env("KEYPORT_SDK_GITHUB_TOKEN", GITHUB_TOKEN)
        .env("KEYPORT_SDK_IDP", &issuer)
        .env("KEYPORT_SDK_CLIENT_ID", CLIENT_ID)
        .env("KEYPORT_SDK_CLIENT_SECRET", CLIENT_SECRET)
        .spawn()
        .expect("start snippets.py");
    let mut script = Peer(script);
    let stdout = script.0.stdout.take().expect("stdout");
    let stderr = script.0.stderr.take().expect("stderr");
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });

    let mut output = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                // The OAuth snippet prints the connect link, then waits up to 20 s for ACTIVE.
                if let Some(rest) = line.strip_prefix("Navigate to ")
                    && let Some(url) = rest.strip_suffix(" to connect your Gmail account")
                {
                    drive(url);
                }
                output.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "snippets.py still running after 300 s:\n{}",
                    output.join("\n")
                );
            }
        }
    }
    let status = script.0.wait().expect("wait for snippets.py");
    let stderr = errors.join().unwrap_or_default();
    let text = output.join("\n");
    let context = || {
        format!(
            "--- stdout\n{text}\n--- stderr\n{stderr}\n--- keyport log (tail)\n{}",
            tail(&server.log(), 40)
        )
    };
    println!("{text}");

    assert!(
        status.success(),
        "snippets.py exited with {status}\n{}",
        context()
    );
    for expected in EXPECTED {
        assert!(
            output.iter().any(|l| l == expected),
            "missing line {expected:?}\n{}",
            context()
        );
    }
    let network = output
        .iter()
        .find(|l| l.starts_with("network: "))
        .unwrap_or_else(|| panic!("no network line\n{}", context()));
    assert!(
        network.ends_with("connection attempts, all loopback"),
        "{network}"
    );
    let passed = EXPECTED.len() + 1;
    assert_eq!(
        output.last().map(String::as_str),
        Some(format!("{passed} passed, 0 failed").as_str()),
        "{}",
        context()
    );

    // The GitHub stand-in got the two issues, with the user's token and the SDK's input.
    let seen = get_json(&format!("{github}/__requests"));
    let issues: Vec<&Value> = seen
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(issues.len(), 2, "{seen}");
    for issue in &issues {
        assert_eq!(issue["path"], "/repos/keyport/sdk-test/issues", "{issue}");
        assert_eq!(
            issue["headers"]["authorization"],
            format!("Bearer {GITHUB_TOKEN}"),
            "{issue}"
        );
        assert_eq!(
            issue["headers"]["content-type"], "application/json",
            "{issue}"
        );
    }
    assert_eq!(
        issues[0]["body"],
        json!({"title": "Opened through keyport"})
    );
    assert_eq!(
        issues[1]["body"],
        json!({"title": "And a second one", "body": "From the SDK"})
    );

    // The OAuth connection went through the real authorization server, and deleting it
    // revoked its grant there.
    let stats = get_json(&format!("{issuer}/__stats"));
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    assert!(stats["revocation"].as_u64().unwrap_or(0) >= 1, "{stats}");

    // Every bad input was a 4xx: keyport answered no request with a 5xx.
    let log = strip_ansi(&server.log());
    assert!(
        !log.contains("status=5"),
        "keyport answered a 5xx:\n{}",
        tail(&log, 60)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The log without terminal colour codes (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
