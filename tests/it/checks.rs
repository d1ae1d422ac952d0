//! Credential checks against an app's who-am-I endpoint (here a stand-in for GitHub's
//! `GET /user` on 127.0.0.1): at creation (ACTIVE or FAILED) and on demand (INACTIVE when
//! refused, ACTIVE again when accepted), with the provider's message as the reason.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::common::{Server, read_request};

/// Accepts `Bearer good`, refuses everything else like GitHub does.
fn github_stand_in() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().take(50) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let text = read_request(&mut stream);
            seen.fetch_add(1, Ordering::SeqCst);
            let ok =
                text.starts_with("get /user ") && text.contains("authorization: bearer good\r\n");
            let (status, body) = if ok {
                ("200 OK", r#"{"login":"octocat"}"#)
            } else {
                ("401 Unauthorized", r#"{"message":"Bad credentials"}"#)
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, hits)
}

#[test]
fn credentials_are_checked_at_creation_and_on_demand() {
    let server = Server::start();
    let (port, hits) = github_stand_in();
    let integration = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": format!("http://127.0.0.1:{port}")}})),
    );
    let create = |token: &str, validate: bool| {
        server.ok(
            "POST",
            "/api/v1/connectedAccounts",
            Some(&json!({"integrationId": integration["id"], "data": {"token": token}, "validate": validate})),
        )
    };
    let good = create("good", true);
    assert_eq!(good["connectionStatus"], "ACTIVE");
    let bad = create("ghp_wrong", true);
    assert_eq!(bad["connectionStatus"], "FAILED");
    let failed = server.ok(
        "GET",
        &format!(
            "/api/v1/connectedAccounts/{}",
            bad["connectedAccountId"].as_str().unwrap()
        ),
        None,
    );
    assert!(
        failed["statusReason"]
            .as_str()
            .unwrap()
            .contains("Bad credentials"),
        "{failed}"
    );
    assert!(!failed.to_string().contains("ghp_wrong"));
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Unchecked at creation, refused later: INACTIVE with the provider's message.
    let unchecked = create("revoked", false);
    assert_eq!(unchecked["connectionStatus"], "ACTIVE");
    let id = unchecked["connectedAccountId"].as_str().unwrap();
    let tested = server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/test"),
        Some(&json!({})),
    );
    assert_eq!(
        (
            tested["check"]["ok"].as_bool(),
            tested["check"]["status"].as_u64()
        ),
        (Some(false), Some(401))
    );
    assert_eq!(tested["status"], "INACTIVE");
    assert!(
        tested["statusReason"]
            .as_str()
            .unwrap()
            .contains("Bad credentials")
    );
    // The good one passes on demand too, and the CLI says so.
    let good_id = good["connectedAccountId"].as_str().unwrap();
    let tested = server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{good_id}/test"),
        Some(&json!({})),
    );
    assert_eq!(
        (tested["check"]["ok"].as_bool(), tested["status"].as_str()),
        (Some(true), Some("ACTIVE"))
    );
    let out = crate::common::keyport(&server.dir)
        .args(["connections", "test", id])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
    let out = crate::common::keyport(&server.dir)
        .args(["connections", "test", good_id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Schemes without a static credential cannot be checked: a clear 400, nothing stored.
    let oauth = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "github", "authScheme": "OAUTH2", "authConfig": {"client_id": "c", "client_secret": "s"}})),
    );
    let (status, body) = server.call(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&server.admin),
        Some(&json!({"integrationId": oauth["id"], "data": {}, "validate": true})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("validate")
    );
}
