//! BASIC_WITH_JWT: a username and password exchanged at the integration's `token_url` for
//! a JWT, which is then sent as a bearer token (Docker Hub's `/v2/users/login` is the model).
//!
//! The request is `POST token_url` with the JSON body `{"username": …, "password": …}`. The
//! answer is JSON holding the token as `token`, `access_token` or `jwt`; its expiry is
//! `expires_in` (seconds, a number or a numeric string) or else the JWT's own `exp` claim,
//! read without verifying the signature (it is the provider's token, handed to us over the
//! connection we opened; we only need to know when to ask again). When neither is there the
//! expiry is unknown and the caller decides how long to reuse the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{AuthError, IssuedToken, token_endpoint};
use crate::net::Net;

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
        access_token: SecretString::from(token.to_string()),
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
    use secrecy::ExposeSecret;

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
