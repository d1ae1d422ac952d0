//! A connection's life around its grant, against the real authorization server and
//! Chromium. Reconnect in place: an EXPIRED connection (the server revoked everything)
//! cannot be re-enabled, a refused reconnect leaves it exactly as it was, and a completed
//! one makes it ACTIVE again under the same id with a new grant, the replaced refresh token
//! revoked at the server. A failed flow returns to the caller's redirect as a successful
//! one does. Deleting an integration revokes its connections' grants; a disabled one's
//! connections cannot act.

use std::time::Duration;

use serde_json::{Value, json};

use super::{CLIENT_ID, CLIENT_SECRET, connected, idp, oauth_integration, start_connection};
use crate::common::idp::server_with_testidp;
use crate::common::peers::{OidcProvider, drive};
use crate::common::{Launch, Server, agent, error_message};

fn reconnect(server: &Server, id: &str) -> (u16, Value) {
    server.as_admin(
        "POST",
        &format!("/api/v1/connectedAccounts/{id}/reconnect"),
        None,
    )
}

/// Starts a reconnect, which must answer the same id and a connect link.
fn reconnect_link(server: &Server, id: &str) -> String {
    let (status, started) = reconnect(server, id);
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["connectedAccountId"], id, "{started}");
    assert_eq!(started["connectionStatus"], "INITIATED", "{started}");
    started["redirectUrl"].as_str().expect("link").to_string()
}

fn refresh_token(server: &Server, id: &str) -> String {
    let (status, revealed) = server.reveal(id);
    assert_eq!(status, 200, "{revealed}");
    revealed["credentials"]["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string()
}

/// What the token endpoint answers to `refresh_token` sent straight to it.
fn refresh_at_server(idp: &OidcProvider, token: &str) -> (u16, Value) {
    let mut answer = agent()
        .post(format!("{}/token", idp.issuer))
        .send_form([
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .expect("token request");
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap_or_default())
}

/// Whether the page Chromium ended on says `text`.
fn page_says(page: &Value, text: &str) -> bool {
    page["text"].as_str().unwrap_or_default().contains(text)
}

#[test]
fn an_expired_connection_is_reconnected_in_place_and_a_refused_reconnect_changes_nothing() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 2);
    let integration = oauth_integration(&server, &idp, json!({}));
    let id = connected(&server, &integration, "carol");
    let expired = expired_by_the_server(&server, &idp, &id);

    // Enabling cannot bring a dead grant back, and says what can.
    let enable = format!("/api/v1/connectedAccounts/{id}/enable");
    let (status, refused) = server.as_admin("POST", &enable, None);
    assert_eq!(status, 409, "{refused}");
    assert!(error_message(&refused).contains("reconnect"), "{refused}");
    assert_eq!(server.connection(&id), expired);

    // The user refuses at the provider: the connection is exactly as it was.
    let link = reconnect_link(&server, &id);
    let page = drive(&link, &["--deny"]);
    assert!(!page_says(&page, "Connected"), "{page}");
    assert_eq!(server.connection(&id), expired);

    let rotated = reconnected_under_the_same_id(&server, &idp, &id);

    // Reconnecting an ACTIVE connection replaces its grant: the old refresh token is
    // revoked at the server once the new one is in.
    let link = reconnect_link(&server, &id);
    drive(&link, &["--expect-text", "Connected"]);
    let replaced = refresh_token(&server, &id);
    assert_ne!(replaced, rotated);
    let (status, answer) = refresh_at_server(&idp, &rotated);
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("invalid_grant")),
        "{answer}"
    );
    assert!(
        idp.stats()["revoked_tokens"]
            .as_array()
            .is_some_and(|t| t.iter().any(|h| h == "refresh_token")),
        "{}",
        idp.stats()
    );
    assert_eq!(server.reveal(&id).0, 200);
}

/// The server revokes every grant: connection `id` is EXPIRED (as returned), its
/// credentials withheld, and one warning and one status event say why.
fn expired_by_the_server(server: &Server, idp: &OidcProvider, id: &str) -> Value {
    idp.post("/__revoke_all");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.reveal(id).0, 409);
    let expired = server.connection(id);
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    // One log line said so, at warn, with the reason.
    let said: Vec<String> = server
        .log()
        .lines()
        .filter(|l| l.contains(&format!("connection={id}")) && l.contains("to=EXPIRED"))
        .map(str::to_string)
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("WARN") && said[0].contains("invalid_grant"),
        "{said:?}"
    );
    // And one status event, with the reason.
    let expired_by_refresh = |moves: &[(Value, Value, Value)]| {
        moves
            .iter()
            .filter(|(from, to, reason)| {
                from == "ACTIVE"
                    && to == "EXPIRED"
                    && reason.as_str().is_some_and(|r| r.contains("invalid_grant"))
            })
            .count()
    };
    assert_eq!(expired_by_refresh(&server.moves_of(id)), 1);
    expired
}

/// Reconnected: ACTIVE under the same id with a new grant that refreshes; the refresh
/// token it rotated to.
fn reconnected_under_the_same_id(server: &Server, idp: &OidcProvider, id: &str) -> String {
    let codes = idp.token_calls("authorization_code");
    let link = reconnect_link(server, id);
    drive(&link, &["--expect-text", "Connected"]);
    assert_eq!(idp.token_calls("authorization_code"), codes + 1);
    let active = server.connection(id);
    assert_eq!(
        (&active["id"], &active["status"]),
        (&json!(id), &json!("ACTIVE")),
        "{active}"
    );
    assert!(active["statusReason"].is_null(), "{active}");
    let moves = server.moves_of(id);
    assert_eq!(
        moves.last().map(|m| (&m.0, &m.1)),
        Some((&json!("EXPIRED"), &json!("ACTIVE"))),
        "{moves:?}"
    );
    let first = refresh_token(server, id);
    std::thread::sleep(Duration::from_secs(3));
    let refreshes = idp.token_calls("refresh_token");
    let rotated = refresh_token(server, id);
    assert_eq!(idp.token_calls("refresh_token"), refreshes + 1);
    assert_ne!(first, rotated);
    rotated
}

#[test]
fn only_settled_oauth_connections_reconnect() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 3600);
    let integration = oauth_integration(&server, &idp, json!({}));
    // Still connecting: finish that link first.
    let (connecting, _) = start_connection(&server, &integration, "dave", None);
    let (status, refused) = reconnect(&server, &connecting);
    assert_eq!(status, 409, "{refused}");
    assert!(
        error_message(&refused).contains("still connecting"),
        "{refused}"
    );
    // A token scheme is not authorized in a browser.
    let github = server.bearer(
        "github",
        "http://127.0.0.1:9",
        "dave",
        "ghp_reconnectNotForTokens0000000000000",
    );
    let (status, refused) = reconnect(&server, &github);
    assert_eq!(status, 400, "{refused}");
    assert!(error_message(&refused).contains("OAuth"), "{refused}");
    // No such connection.
    let (status, _) = reconnect(&server, "3f1c2b9e-0000-4000-8000-000000000000");
    assert_eq!(status, 404);
    // A body that is not the optional `{redirectUri}` is refused before anything else.
    let path = format!("/api/v1/connectedAccounts/{connecting}/reconnect");
    for body in [json!([1]), json!({"redirectUrl": "http://127.0.0.1/"})] {
        let (status, refused) = server.as_admin("POST", &path, Some(&body));
        assert_eq!(status, 400, "{refused}");
    }
}

/// The query parameters of `url`.
fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn a_failed_flow_returns_to_the_callers_redirect_as_a_successful_one_does() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 3600);
    let integration = oauth_integration(&server, &idp, json!({}));
    let landing = format!("{}/healthz?from=app", server.url);
    let (id, link) = start_connection(&server, &integration, "erin", Some(&landing));
    let page = drive(&link, &["--deny"]);
    let back = page["finalUrl"].as_str().expect("final URL");
    assert!(
        back.starts_with(&format!("{}/healthz?", server.url)),
        "{page}"
    );
    let query = query_of(back);
    assert_eq!(query["from"], "app");
    assert_eq!(query["status"], "failed");
    assert_eq!(query["connectedAccountId"], id);
    assert!(query["reason"].contains("access_denied"), "{query:?}");
    assert_eq!(server.connection(&id)["status"], "FAILED");

    let (id, link) = start_connection(&server, &integration, "erin", Some(&landing));
    let page = drive(&link, &[]);
    let query = query_of(page["finalUrl"].as_str().expect("final URL"));
    assert_eq!(
        (
            query["status"].as_str(),
            query["connectedAccountId"].as_str()
        ),
        ("success", id.as_str()),
        "{page}"
    );
    assert!(!query.contains_key("reason"));
    assert_eq!(server.connection(&id)["status"], "ACTIVE");
}

#[test]
fn deleting_an_integration_revokes_its_connections_and_a_disabled_one_cannot_act() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 3600);
    // The API is the provider's own userinfo endpoint (`/me`).
    let integration = oauth_integration(&server, &idp, json!({"base_url": idp.issuer}));
    let id = connected(&server, &integration, "frank");
    let token = refresh_token(&server, &id);
    let path = format!("/api/v1/integrations/{integration}");

    // Disabled: its connection cannot act, and says why; enabled again, it can.
    server.ok("PATCH", &path, Some(&json!({"enabled": false})));
    let act =
        || server.proxy(json!({"connectedAccountId": id, "endpoint": "/me", "method": "GET"}));
    let (status, refused) = act();
    assert_eq!(status, 409, "{refused}");
    assert!(error_message(&refused).contains("disabled"), "{refused}");
    server.ok("PATCH", &path, Some(&json!({"enabled": true})));
    let (status, acted) = act();
    assert_eq!((status, &acted["status"]), (200, &json!(200)), "{acted}");

    // Deleted: the grant is revoked at the server, not only forgotten here.
    let revocations = idp.stats()["revocation"].as_u64().unwrap_or(0);
    server.ok("DELETE", &path, None);
    assert_eq!(server.connection(&id)["status"], "DELETED");
    assert_eq!(
        idp.stats()["revocation"],
        revocations + 1,
        "{}",
        idp.stats()
    );
    let (status, answer) = refresh_at_server(&idp, &token);
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("invalid_grant")),
        "{answer}"
    );
}

#[test]
fn offline_access_gets_a_refresh_token_from_a_strict_provider_and_its_absence_is_said_at_once() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 2);
    // `offline_access` and no prompt configured: keyport asks for consent, as OIDC
    // requires for the provider to grant a refresh token.
    let strict = oauth_integration(&server, &idp, json!({"authorization_params": {}}));
    let (id, link) = start_connection(&server, &strict, "gina", None);
    let page = drive(&link, &["--expect-text", "Connected"]);
    assert!(!page_says(&page, "no refresh token"), "{page}");
    let first = refresh_token(&server, &id);
    assert!(server.connection(&id)["statusReason"].is_null());
    std::thread::sleep(Duration::from_secs(3));
    let refreshes = idp.token_calls("refresh_token");
    assert_ne!(refresh_token(&server, &id), first);
    assert_eq!(idp.token_calls("refresh_token"), refreshes + 1);

    // Without offline access the provider grants no refresh token: the connection says so
    // now (its status reason, the page, the log), not when the token lapses.
    let online = oauth_integration(
        &server,
        &idp,
        json!({"scopes": "openid", "authorization_params": {}}),
    );
    let (id, link) = start_connection(&server, &online, "gina", None);
    let page = drive(&link, &["--expect-text", "Connected"]);
    assert!(page_says(&page, "no refresh token"), "{page}");
    let connection = server.connection(&id);
    assert_eq!(connection["status"], "ACTIVE");
    let reason = connection["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no refresh token") && reason.contains("offline"),
        "{connection}"
    );
    assert!(
        server
            .log()
            .lines()
            .any(|l| l.contains("WARN") && l.contains(&id) && l.contains("no refresh token")),
        "no warning logged"
    );
}

#[test]
fn an_oauth_connection_is_checked_with_a_fresh_token() {
    let server = server_with_testidp(&Launch::default());
    let idp = idp(&server, 2);
    // The who-am-I endpoint is the provider's userinfo (`/me`).
    let integration = oauth_integration(&server, &idp, json!({"base_url": idp.issuer}));
    let id = connected(&server, &integration, "hank");
    // The flow recorded which account this is, from the provider's userinfo.
    let account = server.connection(&id)["connectionParams"]["account"].clone();
    assert!(account.as_str().is_some_and(|a| !a.is_empty()), "{account}");
    let test = || {
        server.as_admin(
            "POST",
            &format!("/api/v1/connectedAccounts/{id}/test"),
            None,
        )
    };
    let (status, tested) = test();
    assert_eq!(
        (status, &tested["check"]["ok"]),
        (200, &json!(true)),
        "{tested}"
    );
    // Expired: the check renews the token first (one refresh), then passes.
    std::thread::sleep(Duration::from_secs(3));
    let refreshes = idp.token_calls("refresh_token");
    let (status, tested) = test();
    assert_eq!(
        (status, &tested["check"]["ok"]),
        (200, &json!(true)),
        "{tested}"
    );
    assert_eq!(idp.token_calls("refresh_token"), refreshes + 1);
    // The grant dies at the provider: the check finds it EXPIRED, and says to reconnect.
    idp.post("/__revoke_all");
    std::thread::sleep(Duration::from_secs(3));
    let (status, refused) = test();
    assert_eq!(status, 409, "{refused}");
    assert!(error_message(&refused).contains("reconnect"), "{refused}");
    assert_eq!(server.connection(&id)["status"], "EXPIRED");
}
