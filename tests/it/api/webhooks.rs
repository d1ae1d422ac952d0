//! Webhooks, against a real receiver on 127.0.0.1: every status event of a connection's
//! life (created ACTIVE, disabled, deleted) is POSTed as the stream's JSON, signed with
//! HMAC-SHA256 over `t.body` under the configured secret; a 500 and a redirect are retried
//! (the redirect not followed), and the secret never reaches the log. A webhook URL off
//! the machine, or one without a secret, stops `serve` at start with a clear message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ring::hmac;
use serde_json::{Value, json};

use crate::common::Launch;
use crate::common::stand_in::{Recorded, Reply, Sentinel, Upstream, json_reply};

const SECRET: &str = "whsec-canary-5be1f0";

/// The body's signature as `X-Keyport-Signature` carries it, checked under `key`.
fn signed_by(request: &Recorded, key: &[u8]) -> bool {
    let header = request.header("x-keyport-signature").unwrap_or_default();
    let (Some(t), Some(v1)) = (
        header.split(',').find_map(|p| p.strip_prefix("t=")),
        header.split(',').find_map(|p| p.strip_prefix("v1=")),
    ) else {
        return false;
    };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(&request.body);
    let mac = hex::decode(v1).unwrap_or_default();
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &message, &mac).is_ok()
}

fn wait_for(receiver: &Upstream, count: usize) -> Vec<Recorded> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.count() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    receiver.requests()
}

#[test]
fn status_events_are_posted_signed_and_retried_without_following_redirects() {
    let sentinel = Sentinel::start();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let to_sentinel = format!("http://127.0.0.1:{}/elsewhere", sentinel.port);
    let receiver = Upstream::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => json_reply(500, json!({"error": "busy"})),
        1 => Reply::Send {
            status: 302,
            headers: vec![("Location".into(), to_sentinel.clone())],
            body: Vec::new(),
        },
        _ => json_reply(200, json!({})),
    });
    let server = Launch::default()
        .env("KEYPORT_WEBHOOK_URL", &format!("{}/hook", receiver.base))
        .env("KEYPORT_WEBHOOK_SECRET", SECRET)
        .start();
    let integration =
        server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let id = server.create_connection(
        json!({"integrationId": integration["id"], "userUuid": "alice", "data": {"token": "t"}}),
    )["connectedAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/connectedAccounts/{id}");
    server.ok("POST", &format!("{path}/disable"), None);
    server.ok("DELETE", &path, None);

    let seen = wait_for(&receiver, 5);
    assert_eq!(seen.len(), 5, "{seen:?}");
    let bodies: Vec<Value> = seen.iter().map(Recorded::json).collect();
    let moves: Vec<(&Value, &Value)> = bodies
        .iter()
        .map(|b| (&b["oldStatus"], &b["newStatus"]))
        .collect();
    let (new, active) = (Value::Null, json!("ACTIVE"));
    assert_eq!(
        moves,
        [
            (&new, &active),
            (&new, &active),
            (&new, &active),
            (&active, &json!("INACTIVE")),
            (&json!("INACTIVE"), &json!("DELETED")),
        ],
        "the first event after a 500 and a redirect, then the others"
    );
    assert_eq!(sentinel.hits(), 0, "the redirect was not followed");
    assert_eq!(bodies[0], bodies[2], "a retry sends the same event");
    // The same JSON the event stream sends.
    let streamed = server.events(&server.admin, None, 3, Duration::from_secs(5));
    assert_eq!(
        &streamed[..],
        &[bodies[2].clone(), bodies[3].clone(), bodies[4].clone()]
    );
    for (request, body) in seen.iter().zip(&bodies) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/hook");
        assert!(request.has("content-type", "application/json"));
        assert_eq!(
            request.header("x-keyport-event-id"),
            Some(body["id"].to_string().as_str())
        );
        assert!(signed_by(request, SECRET.as_bytes()), "{request:?}");
        assert!(!signed_by(request, b"another secret"));
        let mut tampered = request.clone();
        tampered.body.push(b' ');
        assert!(!signed_by(&tampered, SECRET.as_bytes()));
    }
    assert!(!server.log().contains(SECRET), "the secret is never logged");
    assert_eq!(bodies[0]["connectedAccountId"], json!(id));
}

fn refused(launch: Launch) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = launch
        .start_in(&tmp.path().join("data"))
        .err()
        .expect("serve refuses to start");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_webhook_off_the_machine_or_without_a_secret_is_refused_at_start() {
    let remote = refused(
        Launch::default()
            .env("KEYPORT_WEBHOOK_URL", "http://hooks.example.com/keyport")
            .env("KEYPORT_WEBHOOK_SECRET", SECRET),
    );
    assert!(
        remote.contains("only over http(s) to a loopback host"),
        "{remote}"
    );
    assert!(!remote.contains(SECRET), "{remote}");
    let unsigned = refused(Launch::default().env("KEYPORT_WEBHOOK_URL", "http://127.0.0.1:9/hook"));
    assert!(
        unsigned.contains("needs a secret") && unsigned.contains("KEYPORT_WEBHOOK_SECRET"),
        "{unsigned}"
    );
}
