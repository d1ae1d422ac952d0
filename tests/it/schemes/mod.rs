//! The schemes besides OAuth 2.0 against independent peers: OAuth 1.0a signatures verified
//! by oauthlib's server endpoints (`oauth1`), Google service-account assertions verified by
//! PyJWT (`gsa`), and a BASIC_WITH_JWT login that issues PyJWT tokens (`jwt`), all from
//! tests/peers/*.py; bad configurations of each refused naming the field (`configs`). The
//! tests drive the library directly: a `Service` on a throwaway vault, `prepare` +
//! `Injection::apply` + `Net::send`, with the service's clock moved forward instead of
//! sleeping.

mod configs;
mod gsa;
pub(crate) mod jwt;
mod oauth1;

use std::process::Command;

use http::Method;
use keyport::auth::Injection;
use keyport::ids::ConnectionId;
use keyport::net::Net;
use keyport::service::Error;
use keyport::service::Prepared;
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use crate::common::service::Library;
use crate::common::{peers, succeeded};

/// An RSA key pair from tests/peers/rsa_keygen.py: `public`, `private_pkcs8`, `private_pkcs1`.
fn keypair() -> Value {
    let out = Command::new(peers::python())
        .arg(peers::dir().join("rsa_keygen.py"))
        .output()
        .expect("run rsa_keygen.py");
    succeeded(&out);
    serde_json::from_slice(&out.stdout).expect("keygen JSON")
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
    kp: &Library,
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

/// GET `path` through connection `id`, prepared and sent the way the proxy does.
fn get_through(kp: &Library, id: ConnectionId, path: &str) -> (u16, Value) {
    let prepared = kp.prepare(id).expect("prepare");
    send(
        &prepared.injection,
        &prepared.base_url,
        Method::GET,
        path,
        None,
    )
}

/// The bearer tokens `n` concurrent first uses of connection `id` were given.
fn concurrent_bearers(kp: &Library, id: ConnectionId, n: usize) -> Vec<String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| bearer(&kp.prepare(id).expect("prepare"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}
