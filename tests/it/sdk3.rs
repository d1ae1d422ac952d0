//! keyport as the backend of the current Composio SDKs, which speak the v3.1 API: Python's
//! `composio` 0.30.0 (tests/peers/requirements-v3.txt, its snippets in `tests/peers/sdk3/`)
//! and TypeScript's `@composio/core` 0.19.0 on the Node 22 of `tests/peers/composio3/`
//! (its suite in `suite.mjs`). Each runs against the real binary, with the real
//! oidc-provider and Chromium for the OAuth 2.0 flows (initiate and link) and a GitHub
//! stand-in for tools and the proxy. A hook in each proves the SDK made no connection off
//! this machine; both run with tracking off.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::peers::{self, drive};
use crate::sdk::{Backends, Run, assert_no_5xx, assert_suite, create_key, run_lines};

const CLIENT_ID: &str = "keyport-sdk3";
const CLIENT_SECRET: &str = "keyport-sdk3-secret-7d21";
const GITHUB_TOKEN: &str = "ghp_keyportSdk3StandIn000000000000000";

/// What each check of the Python suite prints when it passes.
const EXPECTED: &[&str] = &[
    "ok: auth_configs.create: OAUTH2 with own client (the oidc-provider), API_KEY, BEARER_TOKEN",
    "ok: initiate with an API key -> ACTIVE at once; the v1 API sees the same account",
    "ok: initiate OAUTH2 -> keyport's connect link -> Chromium -> wait_for_connection ACTIVE",
    "ok: link() -> connect URL with an expiry -> Chromium -> ACTIVE",
    "ok: initiate() for a user with an ACTIVE account refuses unless allow_multiple",
    "ok: list: user_ids, auth_config_ids, toolkit_slugs, statuses, order; a cursor walk over 3 pages",
    "ok: disable / enable a connected account and an auth config",
    "ok: auth configs: list by toolkit, update, delete with its accounts",
    "ok: delete a connected account: REVOKED, out of the lists",
    "ok: toolkits: get, list, categories",
    "ok: tools: a new toolkit lists its tools with their schemas",
    "ok: tools.execute GITHUB_CREATE_AN_ISSUE with a version, through the GitHub stand-in",
    "ok: tools.proxy with a header parameter",
    "ok: bad input raises the SDK's own typed errors with keyport's message, never a 500",
];

/// The v3 venv's Python with the pinned SDK.
fn python() -> &'static Path {
    peers::python_v3_having("composio", "0.30.0")
}

/// What each check of the TypeScript suite prints when it passes.
const EXPECTED_TS: &[&str] = &[
    "ok: authConfigs.create: OAUTH2 with own client (the oidc-provider), API_KEY, BEARER_TOKEN",
    "ok: initiate with an API key -> ACTIVE at once",
    "ok: initiate OAUTH2 -> connect link -> Chromium -> waitForConnection ACTIVE",
    "ok: link() -> connect URL -> Chromium -> ACTIVE",
    "ok: initiate() for a user with an ACTIVE account refuses unless allowMultiple",
    "ok: list: userIds, authConfigIds, toolkitSlugs, statuses; a cursor walk over 3 pages",
    "ok: disable / enable / delete a connected account; an auth config too",
    "ok: toolkits: get, list",
    "ok: tools: a new toolkit lists its tools with their schemas",
    "ok: tools.execute GITHUB_CREATE_AN_ISSUE with a version; tools.proxyExecute with a header",
    "ok: bad input raises the SDK's own typed errors with keyport's message",
];

#[test]
fn composio_v3_python_sdk_runs_against_keyport() {
    let mut cmd = Command::new(python());
    cmd.arg("-u").arg(peers::dir().join("sdk3/snippets.py"));
    run_suite(cmd, EXPECTED);
}

#[test]
fn composio_v3_typescript_sdk_runs_against_keyport() {
    let dir = peers::dir().join("composio3");
    let node = dir.join("node_modules/node/bin/node");
    assert!(
        node.exists() && dir.join("node_modules/@composio/core").exists(),
        "{} has no node_modules: run tests/run.sh (npm ci there brings @composio/core 0.19.0 \
         and Node 22)",
        dir.display()
    );
    let mut cmd = Command::new(node);
    cmd.arg(dir.join("suite.mjs")).current_dir(&dir);
    run_suite(cmd, EXPECTED_TS);
}

/// Runs a suite against a fresh keyport, oidc-provider and GitHub stand-in, and checks
/// that every expected check passed, nothing left loopback and keyport answered no 5xx.
fn run_suite(mut cmd: Command, expected: &[&str]) {
    let stand = Backends::start((CLIENT_ID, CLIENT_SECRET), GITHUB_TOKEN);
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(stand.tmp.path());
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", stand.tmp.path())
        .env("KEYPORT_SERVER", &stand.server.url)
        .env(
            "COMPOSIO_API_KEY",
            create_key(&stand.server, "composio-v3", "admin"),
        )
        .env("KEYPORT_SDK_GITHUB", &stand.github.url)
        .env("KEYPORT_SDK_GITHUB_TOKEN", GITHUB_TOKEN)
        .env("KEYPORT_SDK_IDP", &stand.idp.issuer)
        .env("KEYPORT_SDK_CLIENT_ID", CLIENT_ID)
        .env("KEYPORT_SDK_CLIENT_SECRET", CLIENT_SECRET);
    assert_suite(&run(cmd), expected, &stand.server);
    // Both OAuth connections went through the real authorization server.
    let stats = stand.idp.stats();
    assert_eq!(stats["token"]["authorization_code"], 2, "{stats}");
    let log = assert_no_5xx(&stand.server);
    assert!(
        log.contains("path=/api/v3.1/connected_accounts"),
        "the SDK did not call v3.1"
    );
}

/// Runs the suite with its stdin piped: each `CONSENT <url>` line is a flow to complete in
/// Chromium, after which the suite reads `DONE`.
pub(crate) fn run(mut cmd: Command) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_lines(cmd, |line, stdin| {
        if let Some(url) = line.strip_prefix("CONSENT ") {
            drive(url, &["--expect-text", "Connected", "--timeout", "60"]);
            let stdin = stdin.expect("the suite's stdin");
            stdin.write_all(b"DONE\n").expect("tell the suite");
        }
    })
}
