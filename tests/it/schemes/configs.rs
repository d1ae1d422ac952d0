//! Bad configurations of every scheme are refused naming the field, at creation or at the
//! latest on first use, and never reach the provider.

use keyport::domain::AuthScheme;
use serde_json::{Value, json};

use super::gsa::{gsa_integration, gsa_peer, service_account};
use super::jwt::{dockerhub, jwt_peer, robot};
use super::oauth1::{ACCESS_TOKEN, CONSUMER_KEY, TOKEN_SECRET, oauth1_app, oauth1_peer};
use super::{assert_names, keypair, refused_before_use};
use crate::common::peers::Peer;
use crate::common::service::Library;

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let keys = keypair();
    let jwt = jwt_peer(0.2);
    let gsa = gsa_peer(&keys, None);
    let oauth = oauth1_peer(None);
    let kp = Library::with_apps(Some(json!([oauth1_app(&oauth, "rsaapp", "RSA-SHA1")])));

    jwt_configs(&kp, &jwt);
    gsa_configs(&kp, &gsa, &keys);
    assert_eq!(
        gsa.get("/_stats")["token_requests"],
        json!(0),
        "no bad key reached the token endpoint"
    );
    assert_eq!(jwt.get("/_stats")["logins"], json!(0));

    oauth1_configs(&kp);
    assert_eq!(oauth.get("/_stats")["requests"], json!([]));
}

/// BASIC_WITH_JWT: a missing field, a wrong type, an unknown template variable in a URL.
fn jwt_configs(kp: &Library, jwt: &Peer) {
    let integration = dockerhub(kp, jwt, "login");
    let err = kp
        .connect(integration, json!({ "username": "robot" }))
        .expect_err("no password");
    assert_names(&err, "password", Some("is required"));
    let err = kp
        .connect(integration, json!({ "username": 5, "password": "x" }))
        .expect_err("wrong type");
    assert_names(&err, "username", Some("expected a string"));

    let id = robot(kp, dockerhub(kp, jwt, "{tenant}/login"));
    let err = kp.prepare(id).expect_err("unknown variable");
    assert_names(&err, "tenant", Some("template variable"));
}

/// GOOGLE_SERVICE_ACCOUNT: wrong type, missing client_email, malformed private key, not a
/// service-account key.
fn gsa_configs(kp: &Library, gsa: &Peer, keys: &Value) {
    let drive = gsa_integration(
        kp,
        &format!("{}/token", gsa.url),
        &format!("{}/drive/v3", gsa.url),
    );
    let err = kp
        .connect(drive, json!({ "credentials_json": 42 }))
        .expect_err("wrong type");
    assert_names(&err, "credentials_json", Some("expected an object"));
    let mut no_email = service_account(keys);
    no_email
        .as_object_mut()
        .expect("object")
        .remove("client_email");
    let mut bad_key = service_account(keys);
    bad_key["private_key"] = json!(
        "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    );
    let mut as_text = service_account(keys);
    as_text["type"] = json!("authorized_user");
    for (credentials, detail) in [
        (no_email, "client_email"),
        (bad_key, "private_key"),
        (json!(as_text.to_string()), "type"),
    ] {
        let created = kp.connect(drive, json!({ "credentials_json": credentials }));
        refused_before_use(kp, created, "credentials_json", detail);
    }
}

fn oauth1_configs(kp: &Library) {
    // OAUTH1: a wrong type, an unknown method, RSA-SHA1 without a key, a malformed RSA key.
    for (app, config, field, detail) in [
        (
            "trello",
            json!({ "consumer_key": CONSUMER_KEY, "consumer_secret": "s", "signature_method": 5 }),
            "signature_method",
            "expected a string",
        ),
        (
            "trello",
            json!({ "consumer_key": CONSUMER_KEY, "consumer_secret": "s", "signature_method": "MD5" }),
            "signature_method",
            "RSA-SHA1",
        ),
        (
            "rsaapp",
            json!({ "consumer_key": CONSUMER_KEY }),
            "private_key",
            "is required",
        ),
    ] {
        let err = kp
            .integration(app, AuthScheme::OAuth1, config)
            .expect_err("a bad OAUTH1 configuration");
        assert_names(&err, field, Some(detail));
    }
    let created = kp.integration(
        "rsaapp",
        AuthScheme::OAuth1,
        json!({ "consumer_key": CONSUMER_KEY, "private_key": "-----BEGIN PRIVATE KEY----- AAAA -----END PRIVATE KEY-----" }),
    );
    match created {
        Err(e) => assert_names(&e, "private_key", Some("RSA private key")),
        Ok(integration) => {
            let id = kp.insert_connection(
                integration,
                "rsaapp",
                json!({ "oauth_token": ACCESS_TOKEN, "oauth_token_secret": TOKEN_SECRET }),
            );
            let err = kp.prepare(id).expect_err("malformed key");
            assert_names(&err, "private_key", Some("RSA private key"));
        }
    }
}
