//! OAuth 1.0a: HMAC-SHA1, RSA-SHA1, HMAC-SHA256 and PLAINTEXT signatures verified by
//! oauthlib, the three-legged flow against it, and the browser flow through keyport's own
//! connect page and callback.

use http::Method;
use keyport::auth::oauth1::{self, Consumer, Endpoints, Signer};
use keyport::auth::{AuthError, Injection};
use keyport::clock::Clock;
use keyport::domain::{AuthScheme, ConnectionStatus};
use keyport::ids::{ConnectionId, IntegrationId};
use keyport::net::Net;
use keyport::service::{CallbackQuery, CreateConnection};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use url::Url;

use super::{keypair, send, send_raw};
use crate::common::agent;
use crate::common::peers::Peer;
use crate::common::service::{Library, object};

pub(super) const CONSUMER_KEY: &str = "kpconsumerkey0123456789AB";
pub(super) const CONSUMER_SECRET: &str = "consumer secret & more/+=";
pub(super) const ACCESS_TOKEN: &str = "kpaccesstoken0123456789ABC";
pub(super) const TOKEN_SECRET: &str = "token secret ~ with+chars";

pub(super) fn oauth1_peer(rsa_public_key: Option<&str>) -> Peer {
    let mut client = json!({ "secret": CONSUMER_SECRET });
    if let Some(pem) = rsa_public_key {
        client["rsa_public_key"] = json!(pem);
    }
    Peer::start(
        "verify_oauth1.py",
        &json!({
            "clients": { CONSUMER_KEY: client },
            "access_tokens": { ACCESS_TOKEN: { "secret": TOKEN_SECRET, "client": CONSUMER_KEY } },
        }),
    )
}

pub(super) fn oauth1_app(peer: &Peer, key: &str, method: &str) -> Value {
    json!({
        "key": key,
        "name": "OAuth1 test app",
        "description": "A loopback OAuth 1.0a provider for tests",
        "base_url": format!("{}/1", peer.url),
        "auth_schemes": [{
            "mode": "OAUTH1",
            "request_token_url": format!("{}/oauth/request_token", peer.url),
            "authorization_url": format!("{}/oauth/authorize", peer.url),
            "access_token_url": format!("{}/oauth/access_token", peer.url),
            "signature_method": method,
            "authorization_params": { "name": "keyport", "scope": "read,write" },
        }],
    })
}

/// GET with a query and POST with a form body, signed through `prepare`, are accepted by
/// oauthlib; a request altered after signing is refused (the verifier can say no).
fn exercise_signed_requests(kp: &Library, peer: &Peer, id: ConnectionId, method: &str) {
    let prepared = kp.prepare(id).expect("prepare");
    assert!(
        prepared
            .injection
            .header_names()
            .contains(&"authorization".to_string())
    );
    let (status, verdict) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        "/members/me?fields=username,fullName&filter=a+b%20c&empty=",
        None,
    );
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["valid"], json!(true));
    assert_eq!(verdict["signature_method"], json!(method));
    assert_eq!(
        verdict["params"],
        json!([
            ["empty", ""],
            ["fields", "username,fullName"],
            ["filter", "a b c"]
        ])
    );

    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", "Buy milk & eggs")
        .append_pair("desc", "2% fat ~ \"fresh\" ☃")
        .append_pair("idList", "5abbe4b7ddc1b351ef961414")
        .finish();
    let (status, verdict) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::POST,
        "/cards?pos=top",
        Some(&form),
    );
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["method"], json!("POST"));
    assert!(
        verdict["params"]
            .as_array()
            .expect("params")
            .contains(&json!(["desc", "2% fat ~ \"fresh\" ☃"])),
        "{verdict}"
    );

    // Signed for one URL, sent to another: refused.
    let mut url = Url::parse(&format!("{}/members/me?fields=a", prepared.base_url)).expect("url");
    let mut headers = http::HeaderMap::new();
    prepared
        .injection
        .apply(&Method::GET, &mut url, &mut headers, None)
        .expect("apply");
    url.set_query(Some("fields=b"));
    let (status, verdict) = send_raw(Method::GET, &url, &headers, None);
    assert_eq!(status, 401, "{verdict}");
    assert_eq!(verdict["valid"], json!(false));
    // The same for a form body altered after signing.
    let mut url = Url::parse(&format!("{}/cards", prepared.base_url)).expect("url");
    let mut headers = http::HeaderMap::new();
    prepared
        .injection
        .apply(&Method::POST, &mut url, &mut headers, Some(b"name=a"))
        .expect("apply");
    let (status, _) = send_raw(Method::POST, &url, &headers, Some("name=b"));
    assert_eq!(status, 401);

    let stats = peer.get("/_stats");
    assert_eq!(stats["verified"], json!(2), "{stats}");
    assert_eq!(stats["rejected"], json!(2), "{stats}");
}

/// An OAUTH1 integration of `app` with `config`, which must be accepted.
fn oauth1_integration(kp: &Library, app: &str, config: Value) -> IntegrationId {
    kp.integration(app, AuthScheme::OAuth1, config)
        .expect("integration")
}

#[test]
fn oauth1_hmac_sha1_requests_verify_with_oauthlib() {
    let peer = oauth1_peer(None);
    let kp = Library::with_apps(None);
    let integration = oauth1_integration(
        &kp,
        "trello",
        json!({
                "consumer_key": CONSUMER_KEY,
                "consumer_secret": CONSUMER_SECRET,
            "base_url": format!("{}/1", peer.url),
        }),
    );
    let id = kp.insert_connection(
        integration,
        "trello",
        json!({ "oauth_token": ACCESS_TOKEN, "oauth_token_secret": TOKEN_SECRET }),
    );
    exercise_signed_requests(&kp, &peer, id, "HMAC-SHA1");
}

#[test]
fn oauth1_rsa_sha1_requests_verify_with_oauthlib() {
    let keys = keypair();
    let public = keys["public"].as_str().expect("public");
    let peer = oauth1_peer(Some(public));
    let kp = Library::with_apps(Some(json!([oauth1_app(&peer, "rsaapp", "RSA-SHA1")])));
    // A form field can't hold line breaks: the PEM arrives with spaces (PKCS#8) or with
    // literal "\n" (PKCS#1), and both must work.
    let one_line = |pem: &str, sep: &str| pem.trim().replace('\n', sep);
    let connect = |pem: String| {
        // An RSA-SHA1 integration needs no consumer secret.
        let config = json!({ "consumer_key": CONSUMER_KEY, "private_key": pem });
        let integration = oauth1_integration(&kp, "rsaapp", config);
        kp.insert_connection(
            integration,
            "rsaapp",
            json!({ "oauth_token": ACCESS_TOKEN, "oauth_token_secret": TOKEN_SECRET }),
        )
    };
    let pkcs8 = connect(one_line(keys["private_pkcs8"].as_str().expect("pem"), " "));
    exercise_signed_requests(&kp, &peer, pkcs8, "RSA-SHA1");

    let pkcs1 = connect(one_line(
        keys["private_pkcs1"].as_str().expect("pem"),
        "\\n",
    ));
    let prepared = kp.prepare(pkcs1).expect("prepare");
    let (status, verdict) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        "/boards?filter=open",
        None,
    );
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["signature_method"], json!("RSA-SHA1"));
}

#[test]
fn oauth1_hmac_sha256_and_plaintext_verify_with_oauthlib() {
    let peer = oauth1_peer(None);
    for method in ["HMAC-SHA256", "PLAINTEXT"] {
        let consumer = Consumer::from_config(&object(json!({
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "signature_method": method,
        })))
        .expect("consumer");
        let injection = signed_by(consumer, (ACCESS_TOKEN, TOKEN_SECRET));
        let (status, verdict) = send(
            &injection,
            &peer.url,
            Method::POST,
            "/1/search?query=a%2Fb",
            Some("modelTypes=cards&partial=true"),
        );
        assert_eq!(status, 200, "{method}: {verdict}");
        assert_eq!(verdict["signature_method"], json!(method));
    }
}

/// An injection that signs with `consumer` and the token credentials `token`.
fn signed_by(consumer: Consumer, token: (&str, &str)) -> Injection {
    Injection {
        oauth1: Some(Signer::new(consumer, Some(token), Clock::system())),
        ..Injection::default()
    }
}

/// The user approves at the provider, which redirects to the callback: the `Location` and
/// its query.
fn approve(authorize_url: &str) -> (String, Vec<(String, String)>) {
    let response = agent().get(authorize_url).call().expect("authorize");
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    let back = Url::parse(&location)
        .expect("callback url")
        .query_pairs()
        .into_owned()
        .collect();
    (location, back)
}

fn param(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// A wrong verifier is refused, and the error shows no secret.
fn wrong_verifier_is_refused(
    net: &Net,
    endpoints: &Endpoints,
    consumer: &Consumer,
    temporary: &oauth1::TemporaryCredentials,
) {
    let wrong = oauth1::access_token(
        net,
        endpoints,
        consumer,
        temporary,
        "wrongverifier0123456789abcd",
        Clock::system().unix(),
    )
    .expect_err("wrong verifier");
    assert!(matches!(wrong, AuthError::Rejected { .. }), "{wrong:?}");
    let shown = format!("{wrong} {wrong:?}");
    assert!(
        !shown.contains(CONSUMER_SECRET) && !shown.contains(temporary.token_secret.expose_secret())
    );
}

#[test]
fn oauth1_three_legged_flow_against_oauthlib() {
    let peer = oauth1_peer(None);
    let app = oauth1_app(&peer, "flowapp", "HMAC-SHA1");
    let scheme = &app["auth_schemes"][0];
    let config = object(json!({
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "request_token_url": scheme["request_token_url"],
        "authorization_url": scheme["authorization_url"],
        "access_token_url": scheme["access_token_url"],
        "authorization_params": scheme["authorization_params"],
    }));
    let endpoints = Endpoints::from_config(&config, &Map::new()).expect("endpoints");
    let consumer = Consumer::from_config(&config).expect("consumer");
    let net = Net::default();
    let clock = Clock::system();
    let callback = "http://127.0.0.1:7790/callback/flowapp";

    let temporary = oauth1::request_token(&net, &endpoints, &consumer, callback, clock.unix())
        .expect("request token");
    let authorize = oauth1::authorize_url(&endpoints, &temporary).expect("authorize url");
    let parsed = Url::parse(&authorize).expect("url");
    let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert!(query.contains(&("oauth_token".into(), temporary.token.clone())));
    assert!(query.contains(&("scope".into(), "read,write".into())));
    assert!(query.contains(&("name".into(), "keyport".into())));

    // The user approves: the provider redirects to our callback with the verifier.
    let (location, back) = approve(&authorize);
    assert!(location.starts_with(callback), "{location}");
    let get = |k: &str| param(&back, k).expect(k);
    assert_eq!(get("oauth_token"), temporary.token);
    let verifier = get("oauth_verifier");

    wrong_verifier_is_refused(&net, &endpoints, &consumer, &temporary);

    let tokens = oauth1::access_token(
        &net,
        &endpoints,
        &consumer,
        &temporary,
        &verifier,
        clock.unix(),
    )
    .expect("access token");
    assert!(!format!("{tokens:?}").contains(tokens.token.expose_secret()));

    // The token credentials sign API requests.
    let injection = signed_by(
        consumer.clone(),
        (
            tokens.token.expose_secret(),
            tokens.token_secret.expose_secret(),
        ),
    );
    let (status, verdict) = send(&injection, &peer.url, Method::GET, "/1/members/me", None);
    assert_eq!(status, 200, "{verdict}");

    // The request token was spent.
    let replay = oauth1::access_token(
        &net,
        &endpoints,
        &consumer,
        &temporary,
        &verifier,
        Clock::system().unix(),
    );
    assert!(replay.is_err());
}

/// The OAuth 1.0a browser flow through keyport's own connect page and callback: temporary
/// credentials at creation, the provider's redirect with the verifier, token credentials
/// sealed, and the connection then signs requests oauthlib accepts. A replayed callback
/// is refused.
#[test]
fn oauth1_browser_flow_through_the_connect_page_and_callback() {
    let peer = oauth1_peer(None);
    let kp = Library::with_apps(Some(json!([oauth1_app(&peer, "flowapp", "HMAC-SHA1")])));
    let integration = oauth1_integration(
        &kp,
        "flowapp",
        json!({"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET}),
    );
    let created = kp
        .service
        .create_connection(
            &kp.admin,
            CreateConnection {
                integration_id: integration,
                ..CreateConnection::default()
            },
        )
        .expect("initiate");
    assert_eq!(created.status, ConnectionStatus::Initiated);
    let link = created.redirect_url.expect("connect link");
    let page = kp
        .service
        .connect_page(link.rsplit('/').next().unwrap())
        .expect("connect page");
    assert!(
        page.authorize_url.contains("oauth_token="),
        "{}",
        page.authorize_url
    );

    // The user approves at the provider, which redirects to keyport's callback.
    let (location, back) = approve(&page.authorize_url);
    assert!(
        location.starts_with("http://127.0.0.1:9/callback/flowapp?"),
        "{location}"
    );
    let query = || CallbackQuery {
        oauth_token: param(&back, "oauth_token"),
        oauth_verifier: param(&back, "oauth_verifier"),
        ..Default::default()
    };
    let outcome = kp.service.oauth_callback("flowapp", query());
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(kp.status(created.id).0, ConnectionStatus::Active);
    let replay = kp.service.oauth_callback("flowapp", query());
    assert!(
        !replay.success && replay.message.contains("already used"),
        "{replay:?}"
    );

    exercise_signed_requests(&kp, &peer, created.id, "HMAC-SHA1");
}
