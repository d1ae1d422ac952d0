//! Keep-alive against the real authorization server and Chromium. The peer's refresh
//! tokens live a few seconds from their issue and rotate on every refresh, so a grant left
//! idle longer is gone (`invalid_grant`) and one refreshed in time lives on: an idle limit.
//! With keep-alive on, idle connections stay ACTIVE and usable over three such lifetimes,
//! whether the lapse comes from the token response or the catalog, with no refresh token
//! ever presented twice, and a grant revoked meanwhile turns EXPIRED as at use; with it off, the same connection is EXPIRED at its next use; and
//! nothing is refreshed that would not lapse (no lapse known, or one far away) or may not
//! act.

use std::time::Duration;

use serde_json::{Value, json};

use super::connected;
use super::{CLIENT_ID, CLIENT_SECRET, idp, oauth_integration, oauth_integration_of};
use crate::common::idp::{write_oauth_app, write_testidp};
use crate::common::peers::OidcProvider;
use crate::common::{Launch, Server, error_message};

/// How long the peer's refresh tokens live unused, in seconds.
const IDLE: u64 = 3;

/// keyport started by `launch` with `testidp` and `idleidp` (whose catalog entry says its
/// refresh tokens live [`IDLE`] seconds unused) declared.
fn server(launch: &Launch) -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    write_testidp(&dir);
    write_oauth_app(&dir, "idleidp", json!({"refresh_token_idle_secs": IDLE}));
    let mut server = launch.start_in(&dir).expect("keyport starts");
    server.keep(tmp);
    server
}

/// The provider's own userinfo endpoint, called through the connection.
fn use_it(server: &Server, id: &str) -> (u16, Value) {
    server.proxy(json!({"connectedAccountId": id, "endpoint": "/me", "method": "GET"}))
}

#[test]
fn idle_connections_stay_active_and_usable_over_three_idle_lifetimes() {
    let server = server(&Launch::default());
    // The provider says how long its refresh tokens live (`refresh_token_expires_in`).
    let said = idp(&server, 2);
    said.configure(&json!({"refresh_ttl": IDLE, "announce_refresh_ttl": true}));
    // This one does not; the catalog entry of its app does.
    let quiet = OidcProvider::start(
        (CLIENT_ID, CLIENT_SECRET),
        &format!("{}/callback/idleidp", server.url),
        Some(2),
    );
    quiet.configure(&json!({"refresh_ttl": IDLE}));
    let by_response = oauth_integration(&server, &said, json!({"base_url": said.issuer}));
    let by_catalog = oauth_integration_of(
        &server,
        "idleidp",
        &quiet,
        json!({"base_url": quiet.issuer}),
    );
    // Neither says, and no default is configured: nothing is known to lapse.
    let silent = idp(&server, 3600);
    let unknown = oauth_integration(&server, &silent, json!({}));
    let told = connected(&server, &by_response, "ivy");
    let listed = connected(&server, &by_catalog, "ivy");
    let unsaid = connected(&server, &unknown, "ivy");
    let lapse = &server.connection(&told)["connectionParams"]["refresh_token_expires_at"];
    assert!(
        lapse.is_i64(),
        "the lapse the provider said is kept: {lapse}"
    );

    let before = [
        said.token_calls("refresh_token"),
        quiet.token_calls("refresh_token"),
    ];
    let window = 3 * IDLE + 1;
    std::thread::sleep(Duration::from_secs(window));
    assert_eq!(silent.token_calls("refresh_token"), 0, "{}", silent.stats());
    assert_eq!(server.connection(&unsaid)["status"], "ACTIVE");
    for ((id, idp), before) in [(&told, &said), (&listed, &quiet)].into_iter().zip(before) {
        let connection = server.connection(id);
        assert_eq!(connection["status"], "ACTIVE", "{connection}");
        let refreshes = idp.token_calls("refresh_token") - before;
        // At half-life (a second for a 3-second life): enough to outlive each token, and
        // no more.
        assert!((3..=window + 2).contains(&refreshes), "{refreshes}");
        let (status, answer) = use_it(&server, id);
        assert_eq!((status, &answer["status"]), (200, &json!(200)), "{answer}");
        // No refresh token was ever refused: none presented twice, none lapsed.
        assert_eq!(idp.token_errors("refresh_token"), 0, "{}", idp.stats());
    }
    let refreshed = server
        .log()
        .lines()
        .filter(|l| l.contains("keep-alive refreshed") && l.contains(told.as_str()))
        .count();
    assert!(refreshed >= 3, "{refreshed} keep-alive refreshes logged");

    // The provider revokes the grant: keep-alive's next refresh is refused and the idle
    // connection turns EXPIRED as at use, once, and is not tried again.
    said.post("/__revoke_all");
    std::thread::sleep(Duration::from_secs(2));
    let expired = server.connection(&told);
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    let reason = expired["statusReason"].as_str().unwrap_or_default();
    assert!(reason.contains("invalid_grant"), "{expired}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(said.token_errors("refresh_token"), 1, "{}", said.stats());
    let said_so: Vec<String> = server
        .log()
        .lines()
        .filter(|l| l.contains(told.as_str()) && l.contains("to=EXPIRED"))
        .map(str::to_string)
        .collect();
    assert!(
        said_so.len() == 1 && said_so[0].contains("WARN"),
        "{said_so:?}"
    );
    assert_eq!(server.connection(&listed)["status"], "ACTIVE");
}

#[test]
fn with_keep_alive_off_an_idle_connection_is_expired_at_its_next_use() {
    let server = server(&Launch::default().env("KEYPORT_KEEP_ALIVE", "off"));
    let idp = idp(&server, 2);
    idp.configure(&json!({"refresh_ttl": IDLE, "announce_refresh_ttl": true}));
    let integration = oauth_integration(&server, &idp, json!({"base_url": idp.issuer}));
    let id = connected(&server, &integration, "jay");
    // (On a loaded machine the who-am-I call after the flow may have refreshed once.)
    let before = idp.token_calls("refresh_token");

    std::thread::sleep(Duration::from_secs(IDLE + 2));
    assert_eq!(
        idp.token_calls("refresh_token"),
        before,
        "nothing refreshed it"
    );
    let (status, refused) = use_it(&server, &id);
    assert_eq!(status, 409, "{refused}");
    assert!(error_message(&refused).contains("reconnect"), "{refused}");
    let expired = server.connection(&id);
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    let reason = expired["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("refused the refresh token") && reason.contains("invalid_grant"),
        "{expired}"
    );
    assert_eq!(
        (
            idp.token_calls("refresh_token") - before,
            idp.token_errors("refresh_token")
        ),
        (1, 1)
    );
    assert!(server.log().contains("keep-alive off"));
    // The event stream says so too.
    let events = server.events(&server.admin, None, 10, Duration::from_secs(1));
    let last = events
        .iter()
        .rev()
        .find(|e| e["connectedAccountId"] == id.as_str())
        .expect("an event of the connection");
    assert_eq!(
        (last["oldStatus"].as_str(), last["newStatus"].as_str()),
        (Some("ACTIVE"), Some("EXPIRED")),
        "{events:?}"
    );
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_grant"),
        "{last}"
    );
}

#[test]
fn nothing_is_refreshed_that_would_not_lapse_or_may_not_act() {
    // Refresh tokens whose lapse nobody says are assumed to live IDLE seconds unused.
    let server = server(&Launch::default().env("KEYPORT_REFRESH_TOKEN_IDLE_SECS", "3"));
    // The provider says its refresh tokens live 14 days: far away.
    let far = idp(&server, 3600);
    far.configure(&json!({"announce_refresh_ttl": true}));
    // Here the default applies, but each connection is disabled, on a disabled integration,
    // or holds no refresh token.
    let near = idp(&server, 3600);
    // The control: the default applies and nothing stops it.
    let control = idp(&server, 3600);

    let far_away = connected(&server, &oauth_integration(&server, &far, json!({})), "kim");
    let on_near = oauth_integration(&server, &near, json!({}));
    let inactive = connected(&server, &on_near, "kim");
    let off_integration = oauth_integration(&server, &near, json!({}));
    let on_off_integration = connected(&server, &off_integration, "kim");
    let online = oauth_integration(
        &server,
        &near,
        json!({"scopes": "openid", "authorization_params": {}}),
    );
    let without_refresh_token = connected(&server, &online, "kim");
    let controlled = connected(
        &server,
        &oauth_integration(&server, &control, json!({})),
        "kim",
    );
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{inactive}/disable"),
        None,
    );
    server.ok(
        "PATCH",
        &format!("/api/v1/integrations/{off_integration}"),
        Some(&json!({"enabled": false})),
    );

    std::thread::sleep(Duration::from_millis(500));
    let before = (
        far.token_calls("refresh_token"),
        near.token_calls("refresh_token"),
        control.token_calls("refresh_token"),
    );
    assert_eq!(before.0, 0, "a lapse 14 days away is not due");
    std::thread::sleep(Duration::from_secs(2 * IDLE));
    assert_eq!(far.token_calls("refresh_token"), 0);
    assert_eq!(
        near.token_calls("refresh_token"),
        before.1,
        "{}",
        near.stats()
    );
    assert!(
        control.token_calls("refresh_token") >= before.2 + 2,
        "the control was refreshed: keep-alive ran"
    );
    for (id, status) in [
        (&far_away, "ACTIVE"),
        (&inactive, "INACTIVE"),
        (&on_off_integration, "ACTIVE"),
        (&without_refresh_token, "ACTIVE"),
        (&controlled, "ACTIVE"),
    ] {
        assert_eq!(server.connection(id)["status"], status, "{id}");
    }
}
