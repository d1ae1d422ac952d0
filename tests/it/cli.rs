//! The CLI as a client of the running server: tables by default, `--json` for programs,
//! secrets read from standard input (never argv), non-zero exit with a message on error.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{Server, keyport};

fn run(server: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = keyport(&server.dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok_json(server: &Server, args: &[&str], stdin: Option<&str>) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = run(server, &full, stdin);
    assert!(
        out.status.success(),
        "keyport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cli_manages_integrations_connections_and_keys() {
    let server = Server::start();
    let integration = ok_json(
        &server,
        &["integrations", "add", "github", "--scheme", "BEARER_TOKEN"],
        None,
    );
    let id = integration["id"].as_str().unwrap();

    let oauth = run(
        &server,
        &[
            "integrations",
            "add",
            "github",
            "--client-id",
            "abc",
            "--secret",
            "client_secret",
        ],
        Some("s3cret-from-stdin\n"),
    );
    let text = stdout(&oauth);
    assert!(oauth.status.success(), "{}", stderr(&oauth));
    assert!(
        text.contains(&format!("{}/callback/github", server.url)),
        "show prints the redirect URI: {text}"
    );
    assert!(!text.contains("s3cret-from-stdin"));

    let table = stdout(&run(&server, &["integrations", "list"], None));
    assert!(
        table.contains("BEARER_TOKEN") && table.contains("OAUTH2"),
        "{table}"
    );
    connections(&server, id);
    keys(&server);

    // Errors: a message and a non-zero exit.
    let bad = run(&server, &["integrations", "show", "no-such-id"], None);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("not found"));
    let bad = run(&server, &["integrations", "add", "nosuchapp"], None);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("nosuchapp"));
    assert!(
        run(&server, &["integrations", "rm", id], None)
            .status
            .success()
    );
}

/// A connection with its secret from stdin: listed, shown redacted, disabled, enabled, removed.
fn connections(server: &Server, integration: &str) {
    let conn = ok_json(
        server,
        &[
            "connections",
            "add",
            integration,
            "--entity",
            "alice",
            "--secret",
            "token",
            "--label",
            "cli",
        ],
        Some("ghp_from_stdin\n"),
    );
    assert_eq!(conn["status"], "ACTIVE");
    assert_eq!(conn["connectionParams"]["token"], "********");
    let conn_id = conn["id"].as_str().unwrap();
    let listed = ok_json(server, &["connections", "list", "--entity", "alice"], None);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let shown_text = stdout(&run(server, &["connections", "show", conn_id], None));
    assert!(
        shown_text.contains("ACTIVE")
            && shown_text.contains("alice")
            && !shown_text.contains("ghp_from_stdin"),
        "{shown_text}"
    );
    for (verb, status) in [("disable", "INACTIVE"), ("enable", "ACTIVE")] {
        let answer = ok_json(server, &["connections", verb, conn_id], None);
        assert_eq!(answer["status"], status);
    }
    assert!(
        run(server, &["connections", "rm", conn_id], None)
            .status
            .success()
    );
}

/// A reveal key for alice: created, listed with the admin key, revoked.
fn keys(server: &Server) {
    let key = ok_json(
        server,
        &[
            "keys",
            "create",
            "--name",
            "agent",
            "--permission",
            "reveal",
            "--entity",
            "alice",
        ],
        None,
    );
    assert!(key["key"].as_str().unwrap().starts_with("kp_"));
    let keys = ok_json(server, &["keys", "list"], None);
    assert_eq!(keys["items"].as_array().unwrap().len(), 2);
    let revoke = ["keys", "revoke", key["id"].as_str().unwrap()];
    assert!(run(server, &revoke, None).status.success());
}

#[test]
fn cli_says_when_no_server_runs() {
    let mut server = Server::start();
    server.stop();
    let out = run(&server, &["integrations", "list"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no keyport server is running"), "{stderr}");
    let empty = tempfile::tempdir().unwrap();
    fails_saying(
        keyport(empty.path()).args(["keys", "list"]),
        "keyport serve",
    );
}

/// Runs `cmd`, which must fail with `text` in its stderr.
fn fails_saying(cmd: &mut Command, text: &str) {
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(text), "{stderr}");
}

#[test]
fn serve_without_a_passphrase_source_refuses_to_guess() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    fails_saying(
        keyport(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("KEYPORT_PASSPHRASE"),
        "KEYPORT_PASSPHRASE",
    );
    fails_saying(
        keyport(&dir)
            .args(["serve", "--listen", "0.0.0.0:0"])
            .env("KEYPORT_PASSPHRASE", "x"),
        "--allow-remote",
    );
}

#[test]
fn cli_browses_the_catalog() {
    let server = Server::start();
    let out = run(&server, &["apps", "list", "--search", "git"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("github") && text.contains("gitlab"),
        "{text}"
    );
    let out = run(&server, &["apps", "show", "zendesk"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("subdomain") && text.contains("OAUTH2"),
        "{text}"
    );
    let out = run(&server, &["apps", "show", "nosuchapp"], None);
    assert!(!out.status.success());
}

#[test]
fn connections_edit_sets_labels_and_the_default_and_refuses_an_empty_edit() {
    let server = Server::start();
    let id = server.bearer(
        "github",
        "http://127.0.0.1:9",
        "alice",
        "ghp_cliEditCanary000000000000000000000",
    );
    let edited = ok_json(
        &server,
        &[
            "connections",
            "edit",
            &id,
            "--label",
            "work",
            "--label",
            "main",
            "--default",
        ],
        None,
    );
    assert_eq!(
        edited["labels"],
        serde_json::json!(["work", "main"]),
        "{edited}"
    );
    assert_eq!(edited["connectionParams"]["default"], true, "{edited}");
    let cleared = ok_json(
        &server,
        &["connections", "edit", &id, "--no-labels", "--not-default"],
        None,
    );
    assert_eq!(cleared["labels"], serde_json::json!([]), "{cleared}");
    assert!(
        cleared["connectionParams"]["default"].is_null(),
        "{cleared}"
    );
    let out = run(&server, &["connections", "edit", &id], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
}
