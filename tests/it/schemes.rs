//! The schemes besides OAuth 2.0 against independent peers: OAuth 1.0a signatures verified
//! by oauthlib's server endpoints, Google service-account assertions verified by PyJWT, and a
//! BASIC_WITH_JWT login that issues PyJWT tokens (tests/peers/*.py). The tests drive the
//! library directly: a `Service` on a throwaway vault, `prepare` + `Injection::apply` +
//! `Net::send`, with the service's clock moved forward instead of sleeping.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use http::Method;
use keyport::auth::oauth1::{self, Consumer, Endpoints, Signer};
use keyport::auth::{AuthError, Injection};
use keyport::clock::Clock;
use keyport::config::Config;
use keyport::domain::{AuthScheme, ConnectionStatus};
use keyport::ids::{ConnectionId, EntityId, IntegrationId};
use keyport::net::Net;
use keyport::providers::Catalog;
use keyport::service::Error;
use keyport::service::{Caller, CreateConnection, CreateIntegration, Prepared, Service};
use keyport::store::{NewConnection, Store, StoreError, connections};
use keyport::vault::{Aad, KdfParams, Vault};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use url::Url;

// ---------------------------------------------------------------------------------------
// Python peers

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with the peers' packages: `KEYPORT_TEST_PYTHON` (set by tests/run.sh), else a
/// venv in target/ made here from tests/peers/requirements.txt. No Python is a failure.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(p) = std::env::var_os("KEYPORT_TEST_PYTHON") {
            return PathBuf::from(p);
        }
        let venv = root().join("target/test-venv");
        let python = venv.join("bin/python");
        let stamp = venv.join(".installed");
        let requirements = root().join("tests/peers/requirements.txt");
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let fresh = python.exists()
            && matches!((modified(&stamp), modified(&requirements)), (Some(s), Some(r)) if s >= r);
        if !fresh {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "the scheme tests need python3 with venv for their oauthlib/PyJWT peers, \
                         and python3 could not be run ({e}); install python3 and python3-venv, \
                         or run tests/run.sh, or set KEYPORT_TEST_PYTHON"
                    )
                });
            assert!(
                status.success(),
                "python3 -m venv {} failed; install python3-venv",
                venv.display()
            );
            let status = Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements)
                .status()
                .expect("run pip");
            assert!(
                status.success(),
                "pip install -r tests/peers/requirements.txt failed"
            );
            std::fs::write(&stamp, b"").expect("venv stamp");
        }
        python
    })
}

/// One running peer script; killed on drop.
struct Peer {
    child: Child,
    url: String,
}

impl Peer {
    fn start(script: &str, config: &Value) -> Peer {
        let dir = root().join("tests/peers");
        let mut child = Command::new(python())
            .arg(dir.join(script))
            .arg(config.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let stdout = child.stdout.take().expect("peer stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{script} did not announce its port within 60 s"));
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} printed {line:?} instead of its port"));
        Peer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn get(&self, path: &str) -> Value {
        let (status, value) = crate::common::call(&self.url, "GET", path, None, None);
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    fn control(&self, change: Value) {
        let (status, value) =
            crate::common::call(&self.url, "POST", "/_control", None, Some(&change));
        assert_eq!(status, 200, "{value}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keypair() -> Value {
    let out = Command::new(python())
        .arg(root().join("tests/peers/rsa_keygen.py"))
        .output()
        .expect("run rsa_keygen.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("keygen JSON")
}

// ---------------------------------------------------------------------------------------
// keyport as a library

struct Keyport {
    service: Service,
    admin: Caller,
    _tmp: tempfile::TempDir,
}

impl Keyport {
    /// A service on a fresh vault; `user_apps` go into a user catalog file.
    fn new(user_apps: Option<Value>) -> Keyport {
        let tmp = tempfile::tempdir().expect("tempdir");
        let clock = Clock::system();
        let pass = SecretString::from("scheme tests".to_string());
        let (vault, record) = Vault::create(&pass, KdfParams::FLOOR).expect("vault");
        let store =
            Store::create(&tmp.path().join("keyport.db"), &record, &clock.stamp()).expect("store");
        let providers = tmp.path().join("providers");
        std::fs::create_dir(&providers).expect("providers dir");
        if let Some(apps) = user_apps {
            std::fs::write(
                providers.join("test.json"),
                json!({ "apps": apps }).to_string(),
            )
            .expect("user catalog");
        }
        let (catalog, problems) = Catalog::load(&providers);
        assert!(problems.is_empty(), "{problems:?}");
        let service = Service::new(
            store,
            vault,
            catalog,
            clock,
            "http://127.0.0.1:9".into(),
            &Config::default(),
        )
        .expect("svc");
        let key = service
            .ensure_admin_key(None)
            .expect("admin key")
            .expect("a new admin key");
        let admin = service.authenticate(key.expose_secret()).expect("admin");
        Keyport {
            service,
            admin,
            _tmp: tmp,
        }
    }

    fn integration(
        &self,
        app: &str,
        scheme: AuthScheme,
        config: Value,
    ) -> Result<IntegrationId, Error> {
        let view = self.service.create_integration(
            &self.admin,
            CreateIntegration {
                app: app.into(),
                auth_scheme: Some(scheme),
                auth_config: object(config),
                ..CreateIntegration::default()
            },
        )?;
        Ok(view.integration.id)
    }

    fn connect(&self, integration_id: IntegrationId, data: Value) -> Result<ConnectionId, Error> {
        let created = self.service.create_connection(
            &self.admin,
            CreateConnection {
                integration_id,
                data: object(data),
                ..CreateConnection::default()
            },
        )?;
        assert_eq!(created.status, ConnectionStatus::Active);
        Ok(created.id)
    }

    /// An ACTIVE connection written straight to the store, as a finished browser flow
    /// leaves it (OAuth 1.0a connections are completed by the browser).
    fn insert_connection(
        &self,
        integration_id: IntegrationId,
        app_key: &str,
        secrets: Value,
    ) -> ConnectionId {
        let id = ConnectionId::new();
        let row = id.to_string();
        let aad = Aad {
            table: "connections",
            row: &row,
            column: "secrets",
        };
        let sealed = self
            .service
            .vault()
            .seal(&aad, secrets.to_string().as_bytes())
            .expect("seal");
        let keys: Vec<String> = object(secrets).keys().cloned().collect();
        let entity = EntityId::default_entity();
        let now = self.service.clock().stamp();
        self.service
            .store()
            .write(|tx| {
                connections::insert(
                    tx,
                    &NewConnection {
                        id,
                        integration_id,
                        entity_id: &entity,
                        app_key,
                        status: ConnectionStatus::Active,
                        status_reason: None,
                        labels: &[],
                        params: &Map::new(),
                        secret_keys: &keys,
                        secrets: Some(&sealed),
                        now: &now,
                    },
                )
            })
            .map_err(|e: StoreError| e)
            .expect("insert connection");
        id
    }

    fn prepare(&self, id: ConnectionId) -> Result<Prepared, Error> {
        self.service.prepare(&self.admin, id)
    }

    fn status(&self, id: ConnectionId) -> (ConnectionStatus, String) {
        let view = self.service.get_connection(&self.admin, id).expect("get");
        (
            view.connection.status,
            view.connection.status_reason.unwrap_or_default(),
        )
    }

    fn advance(&self, secs: u64) {
        self.service.clock().advance(Duration::from_secs(secs));
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("a JSON object")
}

/// Sends one request the way the proxy does: injection applied to the final URL and body.
fn send(
    injection: &Injection,
    base_url: &str,
    method: Method,
    path: &str,
    form: Option<&str>,
) -> (u16, Value) {
    let mut url = Url::parse(&format!("{base_url}{path}")).expect("url");
    let mut headers = http::HeaderMap::new();
    injection
        .apply(&method, &mut url, &mut headers, form.map(str::as_bytes))
        .expect("apply");
    send_raw(method, &url, &headers, form)
}

fn send_raw(
    method: Method,
    url: &Url,
    headers: &http::HeaderMap,
    form: Option<&str>,
) -> (u16, Value) {
    let mut builder = http::Request::builder().method(method).uri(url.as_str());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if form.is_some() {
        builder = builder.header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    }
    let body = form.unwrap_or("").as_bytes().to_vec();
    let response = Net::default()
        .send(builder.body(body).expect("request"))
        .expect("send");
    let status = response.status().as_u16();
    let value = serde_json::from_slice(response.body())
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(response.body()).into()));
    (status, value)
}

fn bearer(prepared: &Prepared) -> String {
    let (name, value) = prepared.injection.headers.first().expect("a header");
    assert_eq!(name, "Authorization");
    value
        .expose_secret()
        .strip_prefix("Bearer ")
        .expect("bearer")
        .to_string()
}

/// A refusal that names `field` (and `detail`, when given) and is an input error.
fn assert_names(err: &Error, field: &str, detail: Option<&str>) {
    let text = err.to_string();
    assert!(text.contains(field), "{field} not named in: {text}");
    if let Some(detail) = detail {
        assert!(text.contains(detail), "{detail} not named in: {text}");
    }
    assert_eq!(err.code(), "invalid_input", "{text}");
}

/// A bad configuration must be refused, naming the field, when the connection is created
/// or at the latest on first use — and never reach the provider.
fn refused_before_use(
    kp: &Keyport,
    created: Result<ConnectionId, Error>,
    field: &str,
    detail: &str,
) {
    match created {
        Err(e) => assert_names(&e, field, Some(detail)),
        Ok(id) => {
            let err = kp
                .prepare(id)
                .expect_err("a bad configuration is refused on use");
            assert_names(&err, field, Some(detail));
        }
    }
}

// ---------------------------------------------------------------------------------------
// OAuth 1.0a

const CONSUMER_KEY: &str = "kpconsumerkey0123456789AB";
const CONSUMER_SECRET: &str = "consumer secret & more/+=";
const ACCESS_TOKEN: &str = "kpaccesstoken0123456789ABC";
const TOKEN_SECRET: &str = "token secret ~ with+chars";

fn oauth1_peer(rsa_public_key: Option<&str>) -> Peer {
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

fn oauth1_app(peer: &Peer, key: &str, method: &str) -> Value {
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
fn exercise_signed_requests(kp: &Keyport, peer: &Peer, id: ConnectionId, method: &str) {
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

#[test]
fn oauth1_hmac_sha1_requests_verify_with_oauthlib() {
    let peer = oauth1_peer(None);
    let kp = Keyport::new(None);
    let integration = kp
        .integration(
            "trello",
            AuthScheme::OAuth1,
            json!({
                "consumer_key": CONSUMER_KEY,
                "consumer_secret": CONSUMER_SECRET,
                "base_url": format!("{}/1", peer.url),
            }),
        )
        .expect("integration");
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
    let kp = Keyport::new(Some(json!([oauth1_app(&peer, "rsaapp", "RSA-SHA1")])));
    // A form field can't hold line breaks: the PEM arrives with spaces (PKCS#8) or with
    // literal "\n" (PKCS#1), and both must work.
    let one_line = |pem: &str, sep: &str| pem.trim().replace('\n', sep);
    let connect = |pem: String| {
        let integration = kp
            .integration(
                "rsaapp",
                AuthScheme::OAuth1,
                json!({ "consumer_key": CONSUMER_KEY, "private_key": pem }),
            )
            .expect("an RSA-SHA1 integration needs no consumer secret");
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
        let injection = Injection {
            oauth1: Some(Signer::new(
                consumer,
                Some((ACCESS_TOKEN, TOKEN_SECRET)),
                Clock::system(),
            )),
            ..Injection::default()
        };
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
    let response = crate::common::agent()
        .get(&authorize)
        .call()
        .expect("authorize");
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    assert!(location.starts_with(callback), "{location}");
    let back: Vec<(String, String)> = Url::parse(&location)
        .expect("callback url")
        .query_pairs()
        .into_owned()
        .collect();
    let get = |k: &str| {
        back.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .expect(k)
    };
    assert_eq!(get("oauth_token"), temporary.token);
    let verifier = get("oauth_verifier");

    // A wrong verifier is refused, and the error shows no secret.
    let wrong = oauth1::access_token(
        &net,
        &endpoints,
        &consumer,
        &temporary,
        "wrongverifier0123456789abcd",
        clock.unix(),
    )
    .expect_err("wrong verifier");
    assert!(matches!(wrong, AuthError::Rejected { .. }), "{wrong:?}");
    let shown = format!("{wrong} {wrong:?}");
    assert!(
        !shown.contains(CONSUMER_SECRET) && !shown.contains(temporary.token_secret.expose_secret())
    );

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
    let injection = Injection {
        oauth1: Some(Signer::new(
            consumer.clone(),
            Some((
                tokens.token.expose_secret(),
                tokens.token_secret.expose_secret(),
            )),
            clock,
        )),
        ..Injection::default()
    };
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

// ---------------------------------------------------------------------------------------
// GOOGLE_SERVICE_ACCOUNT

const CLIENT_EMAIL: &str = "keyport-test@project.iam.gserviceaccount.com";
const SCOPES: &str = "https://www.googleapis.com/auth/drive.readonly https://example.test/s2";

fn gsa_peer(keys: &Value, subject: Option<&str>) -> Peer {
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

fn service_account(keys: &Value) -> Value {
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

fn gsa_integration(kp: &Keyport, token_url: &str, api: &str) -> IntegrationId {
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
    let kp = Keyport::new(None);
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
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| bearer(&kp.prepare(id).expect("prepare"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let after_first = stats(&peer);
    assert_eq!(after_first["token_requests"], json!(1), "{after_first}");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    let prepared = kp.prepare(id).expect("prepare");
    let (status, answer) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        "/files",
        None,
    );
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
    let prepared = kp.prepare(id).expect("prepare");
    let (status, answer) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        "/files",
        None,
    );
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
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let kp = Keyport::new(None);
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

// ---------------------------------------------------------------------------------------
// BASIC_WITH_JWT

fn jwt_peer() -> Peer {
    Peer::start(
        "jwt_login.py",
        &json!({
            "username": "robot",
            "password": "pa55-w0rd!",
            "lifetime": 300,
            "key": "hs256-test-key-0123456789abcdef-0123456789",
            "token_delay": 0.2,
        }),
    )
}

#[test]
fn jwt_login_is_reused_until_exp_then_renewed_and_expired_on_401() {
    let peer = jwt_peer();
    let kp = Keyport::new(None);
    let integration = kp
        .integration(
            "dockerhub",
            AuthScheme::BasicWithJwt,
            json!({
                "token_url": format!("{}/login", peer.url),
                "base_url": format!("{}/v2", peer.url),
            }),
        )
        .expect("integration");
    let id = kp
        .connect(
            integration,
            json!({ "username": "robot", "password": "pa55-w0rd!" }),
        )
        .expect("connect");
    let logins = |p: &Peer| p.get("/_stats")["logins"].clone();
    assert_eq!(logins(&peer), json!(0));

    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| bearer(&kp.prepare(id).expect("prepare"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    for _ in 0..3 {
        let prepared = kp.prepare(id).expect("prepare");
        let (status, answer) = send(
            &prepared.injection,
            &prepared.base_url,
            Method::GET,
            "/repositories/robot",
            None,
        );
        assert_eq!((status, &answer["n"]), (200, &json!(0)), "{answer}");
    }
    assert_eq!(logins(&peer), json!(1), "one login for many uses");

    // 50 s left on the JWT's exp: renewed.
    kp.advance(250);
    peer.control(json!({ "advance": 250 }));
    let prepared = kp.prepare(id).expect("prepare");
    let (status, answer) = send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        "/repositories/robot",
        None,
    );
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

// ---------------------------------------------------------------------------------------
// Bad configurations

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let keys = keypair();
    let jwt = jwt_peer();
    let gsa = gsa_peer(&keys, None);
    let oauth = oauth1_peer(None);
    let kp = Keyport::new(Some(json!([oauth1_app(&oauth, "rsaapp", "RSA-SHA1")])));

    // BASIC_WITH_JWT: a missing field, a wrong type.
    let dockerhub = kp
        .integration(
            "dockerhub",
            AuthScheme::BasicWithJwt,
            json!({ "token_url": format!("{}/login", jwt.url), "base_url": format!("{}/v2", jwt.url) }),
        )
        .expect("integration");
    let err = kp
        .connect(dockerhub, json!({ "username": "robot" }))
        .expect_err("no password");
    assert_names(&err, "password", Some("is required"));
    let err = kp
        .connect(dockerhub, json!({ "username": 5, "password": "x" }))
        .expect_err("wrong type");
    assert_names(&err, "username", Some("expected a string"));

    // An unknown template variable in a URL.
    let templated = kp
        .integration(
            "dockerhub",
            AuthScheme::BasicWithJwt,
            json!({ "token_url": format!("{}/{{tenant}}/login", jwt.url), "base_url": format!("{}/v2", jwt.url) }),
        )
        .expect("integration");
    let id = kp
        .connect(
            templated,
            json!({ "username": "robot", "password": "pa55-w0rd!" }),
        )
        .expect("connect");
    let err = kp.prepare(id).expect_err("unknown variable");
    assert_names(&err, "tenant", Some("template variable"));

    // GOOGLE_SERVICE_ACCOUNT: wrong type, missing client_email, malformed private key,
    // not a service-account key.
    let drive = gsa_integration(
        &kp,
        &format!("{}/token", gsa.url),
        &format!("{}/drive/v3", gsa.url),
    );
    let err = kp
        .connect(drive, json!({ "credentials_json": 42 }))
        .expect_err("wrong type");
    assert_names(&err, "credentials_json", Some("expected an object"));
    let mut no_email = service_account(&keys);
    no_email
        .as_object_mut()
        .expect("object")
        .remove("client_email");
    refused_before_use(
        &kp,
        kp.connect(drive, json!({ "credentials_json": no_email })),
        "credentials_json",
        "client_email",
    );
    let mut bad_key = service_account(&keys);
    bad_key["private_key"] = json!(
        "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    );
    refused_before_use(
        &kp,
        kp.connect(drive, json!({ "credentials_json": bad_key })),
        "credentials_json",
        "private_key",
    );
    let mut as_text = service_account(&keys);
    as_text["type"] = json!("authorized_user");
    refused_before_use(
        &kp,
        kp.connect(drive, json!({ "credentials_json": as_text.to_string() })),
        "credentials_json",
        "type",
    );
    assert_eq!(
        gsa.get("/_stats")["token_requests"],
        json!(0),
        "no bad key reached the token endpoint"
    );
    assert_eq!(jwt.get("/_stats")["logins"], json!(0));

    // OAUTH1: a wrong type, a malformed RSA key.
    let err = kp
        .integration(
            "trello",
            AuthScheme::OAuth1,
            json!({ "consumer_key": CONSUMER_KEY, "consumer_secret": "s", "signature_method": 5 }),
        )
        .expect_err("wrong type");
    assert_names(&err, "signature_method", Some("expected a string"));
    let err = kp
        .integration(
            "trello",
            AuthScheme::OAuth1,
            json!({ "consumer_key": CONSUMER_KEY, "consumer_secret": "s", "signature_method": "MD5" }),
        )
        .expect_err("unknown method");
    assert_names(&err, "signature_method", Some("RSA-SHA1"));
    let err = kp
        .integration(
            "rsaapp",
            AuthScheme::OAuth1,
            json!({ "consumer_key": CONSUMER_KEY }),
        )
        .expect_err("RSA-SHA1 without a key");
    assert_names(&err, "private_key", Some("is required"));
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
    assert_eq!(oauth.get("/_stats")["requests"], json!([]));
}

/// The OAuth 1.0a browser flow through keyport's own connect page and callback: temporary
/// credentials at creation, the provider's redirect with the verifier, token credentials
/// sealed, and the connection then signs requests oauthlib accepts. A replayed callback
/// is refused.
#[test]
fn oauth1_browser_flow_through_the_connect_page_and_callback() {
    let peer = oauth1_peer(None);
    let kp = Keyport::new(Some(json!([oauth1_app(&peer, "flowapp", "HMAC-SHA1")])));
    let integration = kp
        .integration(
            "flowapp",
            AuthScheme::OAuth1,
            json!({"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET}),
        )
        .expect("integration");
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
    let response = crate::common::agent()
        .get(&page.authorize_url)
        .call()
        .expect("authorize");
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    assert!(
        location.starts_with("http://127.0.0.1:9/callback/flowapp?"),
        "{location}"
    );
    let back: Map<String, Value> = Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), json!(v)))
        .collect();
    let query = || keyport::service::CallbackQuery {
        oauth_token: back
            .get("oauth_token")
            .and_then(Value::as_str)
            .map(str::to_string),
        oauth_verifier: back
            .get("oauth_verifier")
            .and_then(Value::as_str)
            .map(str::to_string),
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
