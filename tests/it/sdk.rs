//! keyport as a drop-in backend for the Composio Python SDK (composio-core 0.7.22,
//! composio-openai 0.7.20, from tests/peers/requirements.txt): the seed documents' snippets,
//! in `tests/peers/sdk/snippets.py`, run unchanged against the real binary, with the real
//! oidc-provider and Chromium for the OAuth step and a GitHub stand-in for the action. An
//! audit hook in the script proves the SDK made no connection off this machine.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::client::get_json;
use crate::common::peers::{self, OidcProvider, Peer, Process, drive};

const CLIENT_ID: &str = "keyport-sdk";
const CLIENT_SECRET: &str = "keyport-sdk-secret-51c0";
const GITHUB_TOKEN: &str = "ghp_keyportSdkStandIn0000000000000000";

/// The peers' Python, which must have the pinned SDK importable (it fails, never skips).
fn python() -> &'static Path {
    pinned_python(
        peers::python(),
        "import composio, composio_openai; print(composio.__version__)",
        ("composio-core", "0.7.22"),
        "tests/peers/requirements.txt into the venv",
    )
}

/// `python` once it has printed the pinned version of the SDK through `probe`; else the test
/// fails, saying what `tests/run.sh` installs where.
pub(crate) fn pinned_python(
    python: &'static Path,
    probe: &str,
    (sdk, pinned): (&str, &str),
    installs: &str,
) -> &'static Path {
    let probe = Command::new(python)
        .args(["-c", probe])
        .env("COMPOSIO_DISABLE_VERSION_CHECK", "true")
        .output()
        .expect("run the venv's python");
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert!(
        probe.status.success() && version == pinned,
        "{} lacks {sdk} {pinned} ({version:?}; {}): run tests/run.sh, which installs {installs}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    python
}

pub(crate) fn create_key(server: &Server, name: &str, permission: &str) -> String {
    let created = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": name, "permission": permission})),
    );
    created["key"].as_str().expect("key").to_string()
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

/// What the script said and how it ended.
pub(crate) struct Run {
    pub status: std::process::ExitStatus,
    pub output: Vec<String>,
    pub stderr: String,
}

#[test]
fn composio_sdk_runs_the_seed_snippets_against_keyport() {
    let python = python();
    let stand = Backends::start((CLIENT_ID, CLIENT_SECRET), GITHUB_TOKEN);
    let cmd = snippets(
        python,
        &stand.server,
        &stand.idp.issuer,
        &stand.github.url,
        stand.tmp.path(),
    );
    let run = run_snippets(cmd);
    assert_suite(&run, EXPECTED, &stand.server);

    github_got_the_two_issues(&stand.github.url);
    // The OAuth connection went through the real authorization server, and deleting it
    // revoked its grant there.
    let stats = stand.idp.stats();
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    assert!(stats["revocation"].as_u64().unwrap_or(0) >= 1, "{stats}");

    // Every bad input was a 4xx: keyport answered no request with a 5xx.
    assert_no_5xx(&stand.server);
}

/// What an SDK suite runs against: a fresh keyport, the real oidc-provider with a client
/// whose callback is keyport's, a GitHub stand-in, and a scratch directory.
pub(crate) struct Backends {
    pub server: Server,
    pub idp: OidcProvider,
    pub github: Peer,
    pub tmp: tempfile::TempDir,
}

impl Backends {
    pub(crate) fn start(client: (&str, &str), github_token: &str) -> Self {
        let server = Server::start();
        let idp = OidcProvider::start(client, &format!("{}/callback/gmail", server.url), None);
        let github = Peer::start("sdk/github.py", &json!({"token": github_token}));
        let tmp = tempfile::tempdir().expect("tempdir");
        Backends {
            server,
            idp,
            github,
            tmp,
        }
    }
}

/// Checks keyport answered no request with a 5xx; its log, without colours.
pub(crate) fn assert_no_5xx(server: &Server) -> String {
    let log = strip_ansi(&server.log());
    assert!(
        !log.contains("status=5"),
        "keyport answered a 5xx:\n{}",
        tail(&log, 60)
    );
    log
}

/// snippets.py, with the SDK pointed at `server` through a `use` key, in a fresh HOME
/// and cache under `tmp`, and none of the caller's COMPOSIO_ settings.
fn snippets(python: &Path, server: &Server, issuer: &str, github: &str, tmp: &Path) -> Command {
    let (cache, home, work) = (tmp.join("composio"), tmp.join("home"), tmp.join("work"));
    for dir in [&cache, &home, &work] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    // An empty Sentry DSN keeps the SDK from fetching one from Composio at import and exit.
    std::fs::write(cache.join("user_data.json"), r#"{"sentry": {"dsn": ""}}"#).expect("seed");
    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(peers::dir().join("sdk/snippets.py"))
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
    cmd.env("HOME", &home)
        .env("COMPOSIO_BASE_URL", format!("{}/api", server.url))
        .env(
            "COMPOSIO_API_KEY",
            create_key(server, "composio-sdk", "admin"),
        )
        .env("COMPOSIO_DISABLE_VERSION_CHECK", "true")
        .env("COMPOSIO_CACHE_DIR", &cache)
        .env(
            "KEYPORT_SDK_REVEAL_KEY",
            create_key(server, "composio-sdk-reveal", "reveal"),
        )
        .env("KEYPORT_SDK_GITHUB", github)
        .env("KEYPORT_SDK_GITHUB_TOKEN", GITHUB_TOKEN)
        .env("KEYPORT_SDK_IDP", issuer)
        .env("KEYPORT_SDK_CLIENT_ID", CLIENT_ID)
        .env("KEYPORT_SDK_CLIENT_SECRET", CLIENT_SECRET);
    cmd
}

/// A suite's run must have passed every `expected` check, and its network tally must show
/// connections (so the hook saw them) that all stayed on loopback; on failure, the output,
/// stderr and keyport's log say why.
pub(crate) fn assert_suite(run: &Run, expected: &[&str], server: &Server) {
    let text = run.output.join("\n");
    println!("{text}");
    let context = || {
        format!(
            "--- stdout\n{text}\n--- stderr\n{}\n--- keyport log (tail)\n{}",
            run.stderr,
            tail(&server.log(), 40)
        )
    };
    assert!(
        run.status.success(),
        "the suite exited with {}\n{}",
        run.status,
        context()
    );
    for line in expected {
        assert!(
            run.output.iter().any(|l| l == line),
            "missing line {line:?}\n{}",
            context()
        );
    }
    let network = run
        .output
        .iter()
        .find_map(|l| l.strip_prefix("network: "))
        .unwrap_or_else(|| panic!("no network line\n{}", context()));
    let (count, rest) = network.split_once(' ').unwrap_or_default();
    assert!(
        count.parse::<u32>().is_ok_and(|n| n > 0),
        "the hook saw nothing: {network}"
    );
    assert_eq!(rest, "connection attempts, all loopback", "{}", context());
    let passed = expected.len() + 1;
    assert_eq!(
        run.output.last().map(String::as_str),
        Some(format!("{passed} passed, 0 failed").as_str()),
        "{}",
        context()
    );
}

/// Runs the script to its end (300 s at most), consenting in Chromium when the OAuth
/// snippet prints its connect link (it then waits up to 20 s for ACTIVE).
fn run_snippets(cmd: Command) -> Run {
    run_lines(cmd, |line, _| {
        if let Some(rest) = line.strip_prefix("Navigate to ")
            && let Some(url) = rest.strip_suffix(" to connect your Gmail account")
        {
            drive(url, &["--expect-text", "Connected", "--timeout", "15"]);
        }
    })
}

/// Runs a suite to its end (300 s at most), handing each line it prints to `on_line` (with
/// its stdin, when that is piped) as it comes.
pub(crate) fn run_lines(
    mut cmd: Command,
    mut on_line: impl FnMut(&str, Option<&mut ChildStdin>),
) -> Run {
    let mut script = Process(cmd.spawn().expect("start the suite"));
    let mut stdin = script.0.stdin.take();
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
                on_line(&line, stdin.as_mut());
                output.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "the suite is still running after 300 s:\n{}",
                    output.join("\n")
                )
            }
        }
    }
    let status = script.0.wait().expect("wait for the suite");
    Run {
        status,
        output,
        stderr: errors.join().unwrap_or_default(),
    }
}

/// The GitHub stand-in got the two issues, with the user's token and the SDK's input.
fn github_got_the_two_issues(github: &str) {
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
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The log without terminal colour codes (`ESC [ … m`).
pub(crate) fn strip_ansi(text: &str) -> String {
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
