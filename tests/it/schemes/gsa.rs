//! GOOGLE_SERVICE_ACCOUNT: a signed assertion exchanged for a token once, cached, renewed
//! before expiry, and a refused key marks the connection EXPIRED.

use keyport::domain::{AuthScheme, ConnectionStatus};
use keyport::ids::IntegrationId;
use serde_json::{Value, json};

use super::{bearer, concurrent_bearers, get_through, keypair};
use crate::common::peers::Peer;
use crate::common::service::Library;
use crate::common::stand_in::closed_port;

const CLIENT_EMAIL: &str = "keyport-test@project.iam.gserviceaccount.com";
const SCOPES: &str = "https://www.googleapis.com/auth/drive.readonly https://example.test/s2";

pub(super) fn gsa_peer(keys: &Value, subject: Option<&str>) -> Peer {
    Peer::start(
        "verify_gsa.py",
        &json!({
            "public_key": keys["public"],
            "client_email": CLIENT_EMAIL,
            "kid": "kid-1",
            "scope": SCOPES,
            "subject": subject,
            "expires_in": 3600,
            "token_delay": 0.3,
        }),
    )
}

pub(super) fn service_account(keys: &Value) -> Value {
    json!({
        "type": "service_account",
        "project_id": "project",
        "private_key_id": "kid-1",
        "private_key": keys["private_pkcs8"],
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
}

pub(super) fn gsa_integration(kp: &Library, token_url: &str, api: &str) -> IntegrationId {
    kp.integration(
        "googledrive",
        AuthScheme::GoogleServiceAccount,
        json!({ "token_url": token_url, "base_url": api, "scopes": SCOPES }),
    )
    .expect("integration")
}

#[test]
fn gsa_token_is_obtained_once_cached_and_renewed() {
    let keys = keypair();
    let peer = gsa_peer(&keys, Some("alice@example.com"));
    let kp = Library::with_apps(None);
    let integration = gsa_integration(
        &kp,
        &format!("{}/token", peer.url),
        &format!("{}/drive/v3", peer.url),
    );
    let id = kp
        .connect(
            integration,
            json!({ "credentials_json": service_account(&keys), "subject": "alice@example.com" }),
        )
        .expect("connect");
    let stats = |p: &Peer| p.get("/_stats");
    assert_eq!(
        stats(&peer)["token_requests"],
        json!(0),
        "creation is offline"
    );

    // Eight concurrent first uses: one token request, one token.
    let tokens: Vec<String> = concurrent_bearers(&kp, id, 8);
    let after_first = stats(&peer);
    assert_eq!(after_first["token_requests"], json!(1), "{after_first}");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    let (status, answer) = get_through(&kp, id, "/files");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_index"], json!(0));

    // Cached: more uses, no new token request.
    for _ in 0..3 {
        assert_eq!(bearer(&kp.prepare(id).expect("prepare")), tokens[0]);
    }
    assert_eq!(stats(&peer)["token_requests"], json!(1));

    // 50 s before expiry it is renewed, once.
    kp.advance(3550);
    peer.control(json!({ "advance": 3550 }));
    let renewed = bearer(&kp.prepare(id).expect("prepare"));
    assert_ne!(renewed, tokens[0]);
    assert_eq!(bearer(&kp.prepare(id).expect("prepare")), renewed);
    let after_renewal = stats(&peer);
    assert_eq!(after_renewal["token_requests"], json!(2), "{after_renewal}");
    assert_eq!(after_renewal["failures"], json!([]));
    let (status, answer) = get_through(&kp, id, "/files");
    assert_eq!((status, &answer["token_index"]), (200, &json!(1)));

    // The token lives sealed in the connection: reads show it redacted.
    let view = kp.service.get_connection(&kp.admin, id).expect("view");
    assert_eq!(view.params["access_token"], json!("********"));
    assert_eq!(view.params["credentials_json"], json!("********"));

    // The provider refuses the key: EXPIRED with the reason, and it stays that way.
    peer.control(json!({ "revoked": true }));
    kp.advance(3600);
    peer.control(json!({ "advance": 3600 }));
    let err = kp.prepare(id).expect_err("refused");
    assert_eq!(err.code(), "conflict", "{err}");
    let (status, reason) = kp.status(id);
    assert_eq!(status, ConnectionStatus::Expired);
    assert!(
        reason.contains("HTTP 400") && reason.contains("invalid_grant"),
        "{reason}"
    );
    let shown = err.to_string();
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains(&renewed),
        "{shown}"
    );
    assert!(kp.prepare(id).is_err());
    assert_eq!(stats(&peer)["token_requests"], json!(3));
}

#[test]
fn gsa_network_failure_keeps_the_connection_active() {
    let keys = keypair();
    let port = closed_port();
    let kp = Library::with_apps(None);
    let integration = gsa_integration(
        &kp,
        &format!("http://127.0.0.1:{port}/token"),
        &format!("http://127.0.0.1:{port}/api"),
    );
    let id = kp
        .connect(
            integration,
            json!({ "credentials_json": service_account(&keys) }),
        )
        .expect("connect");
    let err = kp.prepare(id).expect_err("unreachable");
    assert_eq!(err.code(), "upstream_failed", "{err}");
    assert_eq!(kp.status(id).0, ConnectionStatus::Active);
}
