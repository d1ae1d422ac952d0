//! Token endpoints that misbehave on purpose (stand-ins on 127.0.0.1, no browser needed):
//! unusable answers, answers without expiry, failures that must back off, and a flow whose
//! state expires on the service's clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyport::domain::AuthScheme;
use keyport::service::{CallbackQuery, CreateConnection};
use serde_json::json;

use super::{start_connection, state_of};
use crate::common::idp::{
    callback, query_param, server_with_testidp, testidp_integration, write_testidp,
};
use crate::common::service::Library;
use crate::common::stand_in::{Reply, Sentinel, Upstream, json_reply, reply};
use crate::common::{Launch, Server, agent, error_message};

fn testidp_server() -> Server {
    server_with_testidp(&Launch::default())
}

/// A token endpoint that misbehaves in a chosen way.
fn misbehaving_token_endpoint(answer: &'static str, sentinel_port: u16) -> Upstream {
    Upstream::start(move |_| match answer {
        "html" => reply(200, "text/html", "<html></html>"),
        "no-token" => reply(
            200,
            "application/json",
            r#"{"token_type":"bearer","expires_in":3600}"#,
        ),
        "huge" => reply(
            200,
            "application/json",
            format!(r#"{{"access_token":"{}"}}"#, "a".repeat(2 * 1024 * 1024)),
        ),
        _ => Reply::Send {
            status: 302,
            headers: vec![(
                "location".into(),
                format!("http://127.0.0.1:{sentinel_port}/steal"),
            )],
            body: Vec::new(),
        },
    })
}

#[test]
fn unusable_token_responses_fail_the_connection_clearly() {
    let server = testidp_server();
    let sentinel = Sentinel::start();
    for (answer, expect) in [
        ("html", "JSON"),
        ("no-token", "access_token"),
        ("huge", "larger than"),
        ("redirect", "302"),
    ] {
        let endpoint = misbehaving_token_endpoint(answer, sentinel.port);
        let integration = testidp_integration(&server, &endpoint.base, json!({}));
        let integration = integration["id"].as_str().unwrap();
        let (id, url) = start_connection(&server, integration, "erin", None);
        let mut page = agent()
            .get(format!(
                "{}/callback/testidp?code=abc&state={}",
                server.url,
                state_of(&url)
            ))
            .call()
            .unwrap();
        assert_eq!(page.status().as_u16(), 400, "{answer}");
        let text = page.body_mut().read_to_string().unwrap();
        assert!(
            !text.contains("aaaaaaaa"),
            "{answer}: the page must not echo the response"
        );
        let connection = server.connection(&id);
        assert_eq!(connection["status"], "FAILED", "{answer}");
        let reason = connection["statusReason"].as_str().unwrap();
        assert!(reason.contains(expect), "{answer}: {reason}");
    }
    assert_eq!(
        sentinel.hits(),
        0,
        "the redirect target must receive nothing"
    );
}

/// A token endpoint that answers the n-th request with `bodies[n]` (JSON, 200) and every
/// later one with 503.
fn scripted_token_endpoint(bodies: Vec<&'static str>) -> Upstream {
    let answered = AtomicUsize::new(0);
    Upstream::start(
        move |_| match bodies.get(answered.fetch_add(1, Ordering::SeqCst)) {
            Some(body) => reply(200, "application/json", *body),
            None => reply(503, "text/plain", ""),
        },
    )
}

/// The first answer issues tokens that expire in a second; every later one is a 503.
fn flaky_token_endpoint() -> Upstream {
    scripted_token_endpoint(vec![
        r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer","expires_in":"1"}"#,
    ])
}

/// An OAUTH2 integration on `testidp` whose token URL is a local scripted endpoint, and an
/// ACTIVE connection completed through the callback (no browser needed).
fn scripted_connection(server: &Server, tokens: &Upstream, base_url: Option<String>) -> String {
    let extra = base_url.map_or(json!({}), |base| json!({"base_url": base}));
    let integration = testidp_integration(server, &tokens.base, extra);
    let (id, url) = start_connection(server, integration["id"].as_str().unwrap(), "frank", None);
    assert_eq!(callback(&server.url, &url, "abc"), Some(200));
    id
}

/// An API stand-in that answers 401 to `Bearer at-1` and 200 to anything else.
fn api_refusing_first_token() -> Upstream {
    Upstream::start(|req| {
        if req.has("authorization", "bearer at-1") {
            reply(401, "text/plain", "")
        } else {
            json_reply(200, json!({"login": "octocat"}))
        }
    })
}

#[test]
fn a_token_without_expiry_is_used_until_a_401_then_refreshed_once_and_retried_once() {
    let server = testidp_server();
    let tokens = scripted_token_endpoint(vec![
        r#"{"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer"}"#,
        r#"{"access_token":"at-2","token_type":"Bearer"}"#,
    ]);
    let api = api_refusing_first_token();
    let id = scripted_connection(&server, &tokens, Some(api.base.clone()));
    assert_eq!(tokens.count(), 1);
    let user = json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"});
    let answer = server.ok("POST", "/api/v2/actions/proxy", Some(&user));
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["data"]["login"], "octocat");
    assert_eq!(tokens.count(), 2, "exactly one refresh after the 401");
    // (After the flow keyport also asked `/me` which account this is.)
    let calls = |api: &Upstream| {
        api.requests()
            .iter()
            .filter(|r| r.target == "/user")
            .count()
    };
    assert_eq!(calls(&api), 2, "exactly one retry");
    // The refresh answer had no refresh_token: the old one is kept.
    let (_, creds) = server.reveal(&id);
    assert_eq!(creds["credentials"]["refresh_token"], "rt-1");
    assert_eq!(creds["credentials"]["access_token"], "at-2");
    // The new token has no expiry either: used again without a refresh.
    let again = server.ok("POST", "/api/v2/actions/proxy", Some(&user));
    assert_eq!(again["status"], 200);
    assert_eq!(tokens.count(), 2);
}

#[test]
fn a_failing_token_endpoint_backs_off_and_leaves_the_connection_active() {
    let server = testidp_server();
    let tokens = flaky_token_endpoint();
    let id = scripted_connection(&server, &tokens, None);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = server.reveal(&id);
    assert_eq!(status, 502, "{body}");
    assert_eq!(tokens.count(), 2, "one exchange, one refresh attempt");
    for _ in 0..10 {
        let (status, body) = server.reveal(&id);
        assert_eq!(status, 502);
        assert!(error_message(&body).contains("retries in"), "{body}");
    }
    assert_eq!(tokens.count(), 2, "no retry storm while backing off");
    assert_eq!(server.connection(&id)["status"], "ACTIVE");
}

#[test]
fn an_expired_state_is_refused_and_the_connection_fails() {
    let tokens = flaky_token_endpoint();
    let lib = Library::new(write_testidp);
    let svc = &lib.service;
    let integration = lib
        .integration(
            "testidp",
            AuthScheme::OAuth2,
            json!({"client_id": "c", "client_secret": "s",
                "authorization_url": format!("{}/auth", tokens.base),
                "token_url": format!("{}/token", tokens.base)}),
        )
        .unwrap();
    let start = || {
        let created = svc
            .create_connection(
                &lib.admin,
                CreateConnection {
                    integration_id: integration,
                    ..Default::default()
                },
            )
            .unwrap();
        let link = created.redirect_url.unwrap();
        let page = svc.connect_page(link.rsplit('/').next().unwrap()).unwrap();
        (
            created.id,
            query_param(&page.authorize_url, "state").unwrap(),
        )
    };
    let (swept, _) = start();
    let (late, late_state) = start();
    lib.advance(11 * 60);

    // Swept on read: FAILED with the reason.
    let (status, reason) = lib.status(swept);
    assert_eq!(status.as_str(), "FAILED");
    assert!(reason.contains("10 minutes"));
    // A callback with the expired state: refused, no token request.
    let outcome = svc.oauth_callback(
        "testidp",
        CallbackQuery {
            code: Some("c".into()),
            state: Some(late_state),
            ..Default::default()
        },
    );
    assert!(!outcome.success, "{outcome:?}");
    assert_eq!(lib.status(late).0.as_str(), "FAILED");
    assert_eq!(tokens.count(), 0, "no token request for an expired state");
}
