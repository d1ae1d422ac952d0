//! SIGTERM while a token refresh is in flight, against the real authorization server
//! (which rotates refresh tokens and revokes the grant when a spent one comes back): the
//! server holds the refresh grant's answer after rotating; keyport, told to stop
//! meanwhile, waits for the answer and commits it before it exits cleanly, so after a
//! restart on the same data dir the connection works and the server saw no refresh token
//! used twice. Held 1.5 s, the answer comes within the 5 s in-flight requests are given;
//! held 6.5 s, after them (the request is cut, the exchange is still waited for: up to
//! 10 s).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{idp, oauth_integration, start_connection};
use crate::common::idp::server_with_testidp;
use crate::common::peers::{OidcProvider, drive};
use crate::common::{Launch, Server, agent};

/// Lets the access token (2 s) lapse, has the server hold refresh answers `delay`, starts
/// the use `act` (which needs a refresh) and stops keyport once the refresh reached the
/// server. How long keyport took to exit.
fn sigterm_mid_refresh(server: &mut Server, idp: &OidcProvider, act: &Value, delay: Duration) {
    std::thread::sleep(Duration::from_secs(3));
    idp.configure(&json!({"refresh_delay_ms": delay.as_millis() as u64}));
    let refreshes = idp.token_calls("refresh_token");
    let (url, key, body) = (server.url.clone(), server.admin.clone(), act.clone());
    let user = std::thread::spawn(move || {
        agent()
            .post(format!("{url}/api/v2/actions/proxy"))
            .header("x-api-key", &key)
            .send_json(&body)
            .map(|answer| answer.status().as_u16())
    });
    // The refresh reached the server, which rotated the refresh token and now waits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while idp.token_calls("refresh_token") == refreshes {
        assert!(Instant::now() < deadline, "no refresh came");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopping = Instant::now();
    server.stop(); // SIGTERM; asserts a clean exit within 20 s
    let took = stopping.elapsed();
    let in_flight = user.join().unwrap();
    idp.configure(&json!({"refresh_delay_ms": 0}));
    println!("held {delay:?}: exit {took:?} after SIGTERM; the call in flight: {in_flight:?}");
    assert!(
        took + Duration::from_millis(500) >= delay,
        "keyport exited {took:?} after SIGTERM, before the refresh held {delay:?} was answered"
    );
    let log = server.log();
    let stopped = log
        .rfind("stopping: finishing requests")
        .expect("the stop is logged");
    assert!(
        !log[stopped..].contains("token renewal failed")
            && !log[stopped..].contains("exiting anyway"),
        "the refresh in flight was cut: {}",
        &log[stopped..]
    );
}

/// Restarted on the same data dir: the connection acts, and no refresh token was refused
/// (a lost rotation would make keyport send the spent one).
fn works_after_restart(server: &mut Server, idp: &OidcProvider, act: &Value, id: &str) {
    server.restart();
    let (status, acted) = server.proxy(act.clone());
    assert_eq!((status, &acted["status"]), (200, &json!(200)), "{acted}");
    assert_eq!(server.connection(id)["status"], "ACTIVE");
    let stats = idp.stats();
    assert_eq!(
        stats["token_errors"]["refresh_token"], 0,
        "a refresh token was refused (used twice?): {stats}"
    );
}

#[test]
fn sigterm_during_a_refresh_waits_for_its_commit_and_the_grant_survives_a_restart() {
    let mut server = server_with_testidp(&Launch::default());
    // Access tokens live 2 s; the API is the provider's own userinfo endpoint.
    let idp = idp(&server, 2);
    let integration = oauth_integration(&server, &idp, json!({"base_url": idp.issuer}));
    let (id, link) = start_connection(&server, &integration, "grace", None);
    drive(&link, &["--expect-text", "Connected"]);
    let act = json!({"connectedAccountId": id, "endpoint": "/me", "method": "GET"});
    for delay in [Duration::from_millis(1500), Duration::from_millis(6500)] {
        sigterm_mid_refresh(&mut server, &idp, &act, delay);
        works_after_restart(&mut server, &idp, &act, &id);
    }
}
