//! BASIC_WITH_JWT: one login for many uses, renewed near the JWT's `exp`, and EXPIRED when
//! the provider refuses the password.

use keyport::domain::{AuthScheme, ConnectionStatus};
use keyport::ids::{ConnectionId, IntegrationId};
use serde_json::json;

use super::{concurrent_bearers, get_through};
use crate::common::peers::Peer;
use crate::common::service::Library;

/// The JWT login peer; `token_delay` is how long (seconds) each login takes.
pub(crate) fn jwt_peer(token_delay: f64) -> Peer {
    Peer::start(
        "jwt_login.py",
        &json!({
            "username": "robot",
            "password": "pa55-w0rd!",
            "lifetime": 300,
            "key": "hs256-test-key-0123456789abcdef-0123456789",
            "token_delay": token_delay,
        }),
    )
}

/// A dockerhub integration logging in at `{peer}/{login_path}`, its API at `{peer}/v2`.
pub(crate) fn dockerhub(kp: &Library, peer: &Peer, login_path: &str) -> IntegrationId {
    kp.integration(
        "dockerhub",
        AuthScheme::BasicWithJwt,
        json!({
            "token_url": format!("{}/{login_path}", peer.url),
            "base_url": format!("{}/v2", peer.url),
        }),
    )
    .expect("integration")
}

/// A connection of robot, with the password the peer accepts.
pub(crate) fn robot(kp: &Library, integration: IntegrationId) -> ConnectionId {
    kp.connect(
        integration,
        json!({ "username": "robot", "password": "pa55-w0rd!" }),
    )
    .expect("connect")
}

/// A login peer (each login taking `token_delay` s), keyport as a library, a dockerhub
/// integration logging in at the peer, and robot's connection to it.
pub(crate) fn robot_at_dockerhub(token_delay: f64) -> (Peer, Library, IntegrationId, ConnectionId) {
    let peer = jwt_peer(token_delay);
    let kp = Library::with_apps(None);
    let integration = dockerhub(&kp, &peer, "login");
    let id = robot(&kp, integration);
    (peer, kp, integration, id)
}

fn logins(peer: &Peer) -> serde_json::Value {
    peer.get("/_stats")["logins"].clone()
}

#[test]
fn jwt_login_is_reused_until_exp_then_renewed_and_expired_on_401() {
    let (peer, kp, _, id) = robot_at_dockerhub(0.2);
    assert_eq!(logins(&peer), json!(0));

    let tokens: Vec<String> = concurrent_bearers(&kp, id, 6);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    for _ in 0..3 {
        let (status, answer) = get_through(&kp, id, "/repositories/robot");
        assert_eq!((status, &answer["n"]), (200, &json!(0)), "{answer}");
    }
    assert_eq!(logins(&peer), json!(1), "one login for many uses");

    // 50 s left on the JWT's exp: renewed.
    kp.advance(250);
    peer.control(json!({ "advance": 250 }));
    let (status, answer) = get_through(&kp, id, "/repositories/robot");
    assert_eq!((status, &answer["n"]), (200, &json!(1)), "{answer}");
    kp.prepare(id).expect("prepare");
    assert_eq!(logins(&peer), json!(2));

    // The password changed at the provider: 401 → EXPIRED, with the provider's reason and
    // without the password.
    peer.control(json!({ "password": "changed-elsewhere" }));
    kp.advance(300);
    peer.control(json!({ "advance": 300 }));
    let err = kp.prepare(id).expect_err("refused");
    assert!(!err.to_string().contains("pa55-w0rd!"));
    let (status, reason) = kp.status(id);
    assert_eq!(status, ConnectionStatus::Expired);
    assert!(
        reason.contains("HTTP 401") && reason.contains("Incorrect authentication credentials"),
        "{reason}"
    );
    assert_eq!(logins(&peer), json!(3));
    let again = kp.prepare(id).expect_err("still expired");
    assert!(again.to_string().contains("EXPIRED"), "{again}");
    assert_eq!(
        logins(&peer),
        json!(3),
        "an EXPIRED connection sends nothing"
    );
}

/// A credential read runs inline on an async worker (`keyport::inline`) only while it
/// needs no I/O: the rows in the row cache and the JWT fresh. A cold cache, a JWT due for
/// renewal or a write since the rows were cached each send it to the blocking pool — and
/// the inline attempt refuses before any login is tried; a write is seen at once.
#[test]
fn credential_reads_run_inline_only_while_they_need_no_io() {
    let (peer, kp, _, id) = robot_at_dockerhub(0.2);
    let svc = &kp.service;
    let inline = || keyport::inline::attempt(|| svc.reveal_connection(&kp.admin, id));
    let would_block = |r: Result<_, keyport::service::Error>| r.is_err_and(|e| e.would_block());

    // Just written: the cache holds nothing current.
    assert!(would_block(inline()), "cold cache");
    let first = svc.reveal_connection(&kp.admin, id).expect("reveal");
    assert_eq!(logins(&peer), json!(1));
    let hot = inline().expect("served inline");
    assert_eq!(hot.params, first.params);
    assert_eq!(hot.params["username"], json!("robot"));
    assert_eq!(logins(&peer), json!(1), "no login for a fresh JWT");

    // 50 s left on the JWT: renewal is I/O, refused inline before the login is tried.
    kp.advance(250);
    peer.control(json!({ "advance": 250 }));
    assert!(would_block(inline()), "renewal due");
    assert_eq!(logins(&peer), json!(1), "the inline attempt sent nothing");
    svc.reveal_connection(&kp.admin, id).expect("renewed");
    assert_eq!(logins(&peer), json!(2));
    inline().expect("fresh again, served inline");

    // A write (disable) is seen by the very next read, inline or not: never the ACTIVE
    // rows cached before it (the row cache's own tests cover every write path).
    svc.set_connection_enabled(&kp.admin, id, false)
        .expect("disable");
    let cached = match inline() {
        Err(e) if e.would_block() => svc.reveal_connection(&kp.admin, id).expect_err("disabled"),
        other => other.expect_err("disabled, from the cache"),
    };
    let refused = svc.reveal_connection(&kp.admin, id).expect_err("disabled");
    assert!(refused.to_string().contains("INACTIVE"), "{refused}");
    assert_eq!(cached.to_string(), refused.to_string());
    let again = inline().expect_err("disabled, from the cache");
    assert!(!again.would_block(), "filled by the read above");
    assert_eq!(again.to_string(), refused.to_string());
    assert_eq!(logins(&peer), json!(2));
}
