//! BASIC_WITH_JWT: a username and password exchanged at the integration's `token_url` for
//! a JWT, which is then sent as a bearer token (Docker Hub's `/v2/users/login` is the model).
//!
//! The request is `POST token_url` with the JSON body `{"username": …, "password": …}`. The
//! answer is JSON holding the token as `token`, `access_token` or `jwt`; its expiry is
//! `expires_in` (seconds, a number or a numeric string) or else the JWT's own `exp` claim,
//! read without verifying the signature (it is the provider's token, handed to us over the
//! connection we opened; we only need to know when to ask again). When neither is there the
//! token is reused for [`UNKNOWN_LIFETIME_SECS`].
//!
//! Wire keys: the integration's `token_url` (over the catalog's); the connection's
//! `username`, `password` (sealed), and the cached `access_token` (sealed) with its
//! `expires_at`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::endpoint::{renew_error, token_endpoint, token_url, usable};
use super::{AuthError, Cached, Fields, IssuedToken, Issuer, RenewError, Renewed};
use crate::net::Net;
use crate::providers::catalog::SchemeDetails;
use crate::secret::{AccessToken, Secret};

/// How long a token whose expiry the provider did not say is reused (seconds).
pub const UNKNOWN_LIFETIME_SECS: i64 = 600;

/// A BASIC_WITH_JWT connection opened: where to log in, with what, and the JWT it holds.
#[derive(Debug)]
pub struct Login {
    token_url: Result<String, AuthError>,
    username: Option<Secret>,
    password: Option<Secret>,
    cached: Cached,
}

impl Login {
    pub(super) fn open(
        spec: Option<&SchemeDetails>,
        config: &Fields<'_>,
        conn: &Fields<'_>,
    ) -> Self {
        let catalog = match spec {
            Some(SchemeDetails::BasicWithJwt(s)) => Some(s.token_url.as_str()),
            _ => None,
        };
        Login {
            token_url: token_url(config.text("token_url"), catalog, &conn.variables()),
            username: conn.secret("username"),
            password: conn.secret("password"),
            cached: Cached::open(conn),
        }
    }
}

impl Issuer for Login {
    fn cached(&self) -> &Cached {
        &self.cached
    }

    fn renew(&self, net: &Net, now: i64) -> Result<Renewed, RenewError> {
        let url = usable(&self.token_url)?;
        fn text(v: &Option<Secret>) -> &str {
            v.as_ref().map(Secret::expose_secret).unwrap_or("")
        }
        let issued = obtain(net, url, text(&self.username), text(&self.password), now)
            .map_err(renew_error)?;
        let expires_at = issued
            .expires_at
            .unwrap_or(now.saturating_add(UNKNOWN_LIFETIME_SECS));
        Ok(IssuedToken {
            expires_at: Some(expires_at),
            ..issued
        }
        .renewed())
    }
}

/// Logs in at `token_url`. 400/401 are [`AuthError::Rejected`] (wrong password, locked
/// account); unreachable or malformed answers are [`AuthError::Upstream`].
pub fn obtain(
    net: &Net,
    token_url: &str,
    username: &str,
    password: &str,
    now: i64,
) -> Result<IssuedToken, AuthError> {
    if username.is_empty() {
        return Err(AuthError::Missing("username".into()));
    }
    if password.is_empty() {
        return Err(AuthError::Missing("password".into()));
    }
    let body = zeroize::Zeroizing::new(
        serde_json::to_vec(&json!({"username": username, "password": password}))
            .map_err(|_| AuthError::Invalid("could not encode the login request".into()))?,
    );
    let request = http::Request::post(token_url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(body.to_vec())
        .map_err(|_| AuthError::field("token_url", "is not a usable URL"))?;
    let answer = token_endpoint(net, request, &[password])?;
    parse_response(&answer, now)
}

/// The token and its expiry from a login answer.
pub fn parse_response(body: &[u8], now: i64) -> Result<IssuedToken, AuthError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::Upstream("the token endpoint did not answer with JSON".into()))?;
    let token = ["token", "access_token", "jwt"]
        .iter()
        .find_map(|key| value.get(*key).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AuthError::Upstream(
                "the token endpoint's answer has no token, access_token or jwt".into(),
            )
        })?;
    let expires_at = match value.get("expires_in") {
        Some(raw) => Some(now.saturating_add(seconds(raw).ok_or_else(|| {
            AuthError::Upstream("the token endpoint's expires_in is not a number".into())
        })?)),
        None => exp_claim(token),
    };
    Ok(IssuedToken {
        access_token: AccessToken::new(token),
        expires_at,
    })
}

/// `expires_in` as a non-negative number of seconds, given as a number or a string.
pub(crate) fn seconds(raw: &Value) -> Option<i64> {
    match raw {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|s| *s >= 0)
}

/// The `exp` claim of a JWT (Unix seconds), without verifying anything; `None` when the
/// token is not a JWT or has no numeric `exp`.
pub fn exp_claim(token: &str) -> Option<i64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    seconds(claims.get("exp")?)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[test]
    fn token_under_any_of_the_three_names() {
        for key in ["token", "access_token", "jwt"] {
            let body = json!({ key: "abc" }).to_string();
            let issued = parse_response(body.as_bytes(), 1000).unwrap();
            assert_eq!(issued.access_token.expose_secret(), "abc");
            assert_eq!(issued.expires_at, None);
        }
    }

    #[test]
    fn expiry_from_expires_in_or_the_exp_claim() {
        let t = jwt(json!({"sub": "u", "exp": 5000}));
        let from_claim = parse_response(json!({ "token": t }).to_string().as_bytes(), 1000);
        assert_eq!(from_claim.unwrap().expires_at, Some(5000));
        for raw in [json!(300), json!("300"), json!(300.0)] {
            let body = json!({ "token": t, "expires_in": raw }).to_string();
            assert_eq!(
                parse_response(body.as_bytes(), 1000).unwrap().expires_at,
                Some(1300)
            );
        }
        let bad = json!({ "token": "x", "expires_in": "soon" }).to_string();
        assert!(matches!(
            parse_response(bad.as_bytes(), 0),
            Err(AuthError::Upstream(_))
        ));
    }

    #[test]
    fn malformed_answers_are_upstream_errors() {
        for body in [&b"<html>"[..], br#"{"token": ""}"#, br#"{"detail": "ok"}"#] {
            assert!(matches!(
                parse_response(body, 0),
                Err(AuthError::Upstream(_))
            ));
        }
    }

    #[test]
    fn exp_claim_ignores_non_jwts() {
        assert_eq!(exp_claim("opaque"), None);
        assert_eq!(exp_claim("a.b"), None);
        assert_eq!(exp_claim("a.!!!.c"), None);
        assert_eq!(exp_claim(&jwt(json!({"exp": "12"}))), Some(12));
        assert_eq!(exp_claim(&jwt(json!({"iat": 1}))), None);
    }
}
