//! Credential checks against an app's who-am-I endpoint (here a stand-in for GitHub's
//! `GET /user` on 127.0.0.1): at creation (ACTIVE or FAILED) and on demand (INACTIVE when
//! refused, ACTIVE again when accepted), with the provider's message as the reason; a
//! connection its user disabled stays disabled whatever a check says. (OAuth connections
//! are checked with a fresh token: tests/it/oauth/lifecycle.rs.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Server, keyport, succeeded};

/// Accepts `Bearer good` at `GET /user`, refuses everything else like GitHub does.
fn github_stand_in() -> Upstream {
    Upstream::start(|req| {
        if req.method == "GET" && req.target == "/user" && req.has("authorization", "bearer good") {
            json_reply(200, json!({"login": "octocat"}))
        } else {
            json_reply(401, json!({"message": "Bad credentials"}))
        }
    })
}

fn message(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `POST /api/v1/connectedAccounts/{id}/test`.
fn test_connection(server: &Server, id: &str) -> Value {
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/test"),
        Some(&json!({})),
    )
}

#[test]
fn credentials_are_checked_at_creation_and_on_demand() {
    let server = Server::start();
    let github = github_stand_in();
    let integration = server.integration(
        json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": github.base}}),
    );
    let create = |token: &str, validate: bool| {
        server.create_connection(
            json!({"integrationId": integration["id"], "data": {"token": token}, "validate": validate}),
        )
    };
    let good = create("good", true);
    assert_eq!(good["connectionStatus"], "ACTIVE");
    // Which account it is, as the who-am-I endpoint said.
    let shown = server.connection(good["connectedAccountId"].as_str().unwrap());
    assert_eq!(shown["connectionParams"]["account"], "octocat", "{shown}");
    let bad = create("ghp_wrong", true);
    assert_eq!(bad["connectionStatus"], "FAILED");
    let failed = server.connection(bad["connectedAccountId"].as_str().unwrap());
    assert!(
        message(&failed, "/statusReason").contains("Bad credentials"),
        "{failed}"
    );
    assert!(!failed.to_string().contains("ghp_wrong"));
    assert_eq!(github.count(), 2);

    // Unchecked at creation, refused later: INACTIVE with the provider's message.
    let unchecked = create("revoked", false);
    assert_eq!(unchecked["connectionStatus"], "ACTIVE");
    let id = unchecked["connectedAccountId"].as_str().unwrap();
    let tested = test_connection(&server, id);
    assert_eq!(
        (
            tested["check"]["ok"].as_bool(),
            tested["check"]["status"].as_u64()
        ),
        (Some(false), Some(401))
    );
    assert_eq!(tested["status"], "INACTIVE");
    assert!(message(&tested, "/statusReason").contains("Bad credentials"));
    // The good one passes on demand too, and the CLI says so.
    let good_id = good["connectedAccountId"].as_str().unwrap();
    let tested = test_connection(&server, good_id);
    assert_eq!(
        (tested["check"]["ok"].as_bool(), tested["status"].as_str()),
        (Some(true), Some("ACTIVE"))
    );
    cli_reports_the_checks(&server, id, good_id);
}

fn cli_reports_the_checks(server: &Server, refused: &str, accepted: &str) {
    let out = keyport(&server.dir)
        .args(["connections", "test", refused])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
    let out = keyport(&server.dir)
        .args(["connections", "test", accepted])
        .output()
        .unwrap();
    succeeded(&out);
}

/// Schemes without a static credential cannot be checked: a clear 400, nothing stored.
#[test]
fn a_scheme_without_a_static_credential_cannot_be_validated() {
    let server = Server::start();
    let oauth = server.integration(
        json!({"appName": "github", "authScheme": "OAUTH2", "authConfig": {"client_id": "c", "client_secret": "s"}}),
    );
    let (status, body) = server.as_admin(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": oauth["id"], "data": {}, "validate": true})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(message(&body, "/error/message").contains("validate"));
}

#[test]
fn a_check_never_undoes_a_users_disable_but_brings_back_what_the_provider_refused() {
    let server = Server::start();
    let accepting = Arc::new(AtomicBool::new(true));
    let answers = Arc::clone(&accepting);
    let github = Upstream::start(move |_| {
        if answers.load(Ordering::SeqCst) {
            json_reply(200, json!({"login": "octocat"}))
        } else {
            json_reply(401, json!({"message": "Bad credentials"}))
        }
    });
    let integration = server.integration(
        json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": github.base}}),
    );
    let created = server.create_connection(
        json!({"integrationId": integration["id"], "data": {"token": "ghp_checked"}}),
    );
    let id = created["connectedAccountId"].as_str().unwrap();

    // Disabled by the user: accepted by the provider, still disabled.
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/disable"),
        None,
    );
    let tested = test_connection(&server, id);
    assert_eq!(tested["check"]["ok"], true, "{tested}");
    assert_eq!(
        (
            tested["status"].as_str(),
            message(&tested, "/statusReason").as_str()
        ),
        (Some("INACTIVE"), "disabled by the user"),
        "{tested}"
    );
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/enable"),
        None,
    );

    // Refused by the provider: INACTIVE with its message; accepted again: ACTIVE.
    accepting.store(false, Ordering::SeqCst);
    let tested = test_connection(&server, id);
    assert_eq!(
        (tested["check"]["ok"].as_bool(), tested["status"].as_str()),
        (Some(false), Some("INACTIVE"))
    );
    assert!(
        message(&tested, "/statusReason").contains("Bad credentials"),
        "{tested}"
    );
    accepting.store(true, Ordering::SeqCst);
    let tested = test_connection(&server, id);
    assert_eq!(
        (tested["check"]["ok"].as_bool(), tested["status"].as_str()),
        (Some(true), Some("ACTIVE"))
    );
    assert!(tested["statusReason"].is_null(), "{tested}");
}
