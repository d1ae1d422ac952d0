//! GOOGLE_SERVICE_ACCOUNT: a service account's JSON key signs a JWT assertion (RFC 7523,
//! RS256) that the integration's `token_url` exchanges for an access token.
//!
//! The assertion's claims are `iss` = the key's `client_email`, `scope` = the scopes joined
//! by spaces, `aud` = the token URL, `iat` = now, `exp` = now + 3600, and `sub` = the user to
//! act as when the connection names one (domain-wide delegation); the header names the key
//! (`kid` = `private_key_id`). The exchange is a form POST of
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`.
//!
//! The assertion goes to the integration's `token_url`, never to the key file's `token_uri`:
//! the key is connection data supplied by whoever connects, and must not choose where keyport
//! sends signed material. `token_uri` is read only to be checked for shape.
//!
//! Wire keys: the integration's `token_url` (over the catalog's) and `scopes` (over the
//! catalog's default scopes); the connection's `credentials_json` (sealed), `subject`, and
//! the cached `access_token` (sealed) with its `expires_at`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::endpoint::{pem_to_der, renew_error, token_endpoint, token_url, usable};
use super::{AuthError, Cached, Fields, IssuedToken, Issuer, RenewError, Renewed, jwt, scope_list};
use crate::net::Net;
use crate::providers::catalog::SchemeDetails;
use crate::secret::{AccessToken, SecretJson};

/// A GOOGLE_SERVICE_ACCOUNT connection opened: its key, the scopes and subject to ask for,
/// and the access token it holds.
#[derive(Debug)]
pub struct ServiceAccount {
    token_url: Result<String, AuthError>,
    key: Option<SecretJson>,
    scopes: Vec<String>,
    subject: Option<String>,
    cached: Cached,
}

/// Scopes from an integration's `scopes` setting, else `fallback`.
fn scopes(setting: Option<&Value>, fallback: &[String]) -> Vec<String> {
    scope_list(setting).unwrap_or_else(|| fallback.to_vec())
}

impl ServiceAccount {
    pub(super) fn open(
        spec: Option<&SchemeDetails>,
        config: &Fields<'_>,
        integration_scopes: &[String],
        conn: &Fields<'_>,
    ) -> Self {
        let (catalog_url, default_scopes) = match spec {
            Some(SchemeDetails::GoogleServiceAccount(s)) => {
                (Some(s.token_url.as_str()), s.default_scopes.as_slice())
            }
            _ => (None, integration_scopes),
        };
        ServiceAccount {
            token_url: token_url(config.text("token_url"), catalog_url, &conn.variables()),
            key: conn.secret_json("credentials_json"),
            scopes: scopes(config.value("scopes"), default_scopes),
            subject: conn.text("subject").map(str::to_string),
            cached: Cached::open(conn),
        }
    }
}

impl Issuer for ServiceAccount {
    fn cached(&self) -> &Cached {
        &self.cached
    }

    fn renew(&self, net: &Net, now: i64) -> Result<Renewed, RenewError> {
        let url = usable(&self.token_url)?;
        let raw = self
            .key
            .as_ref()
            .ok_or_else(|| RenewError::Unusable(AuthError::Missing("credentials_json".into())))?;
        let key = parse_key(&raw.expose_value())
            .map_err(|reason| RenewError::Unusable(AuthError::field("credentials_json", reason)))?;
        obtain(net, &key, url, &self.scopes, self.subject.as_deref(), now)
            .map(IssuedToken::renewed)
            .map_err(renew_error)
    }
}

/// Lifetime of an assertion; Google accepts at most one hour.
pub const ASSERTION_LIFETIME: i64 = 3600;

/// The JWT-bearer grant type (RFC 7523 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A parsed service-account key with a usable RSA private key.
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub token_uri: Option<String>,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Checks a service-account key without keeping it, for validation when a connection is
/// created. `Err` is a reason naming the key's field (`client_email: is missing`, `private_key:
/// is not a usable RSA private key …`) and never quotes a value.
pub fn check_key(value: &Value) -> Result<(), String> {
    parse_key(value).map(|_| ())
}

/// Parses the downloaded JSON key (an object, or a string holding its JSON text).
pub fn parse_key(value: &Value) -> Result<ServiceAccountKey, String> {
    let parsed;
    let object: &Map<String, Value> = match value {
        Value::Object(map) => map,
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|_| "is not the service account's JSON key".to_string())?;
            parsed
                .as_object()
                .ok_or_else(|| "is not the service account's JSON key".to_string())?
        }
        _ => return Err("expected the service account's JSON key (an object)".into()),
    };
    let text = |name: &str, required: bool| -> Result<Option<String>, String> {
        match object.get(name) {
            None | Some(Value::Null) if required => Err(format!("{name}: is missing")),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(format!("{name}: must not be empty")),
            Some(_) => Err(format!("{name}: expected a string")),
        }
    };
    if let Some(kind) = text("type", false)?
        && kind != "service_account"
    {
        return Err(
            "type: this is not a service account key (expected \"service_account\")".into(),
        );
    }
    let client_email = text("client_email", true)?.unwrap_or_default();
    if !client_email.contains('@') || client_email.chars().any(char::is_whitespace) {
        return Err("client_email: is not an email address".into());
    }
    let pem = zeroize::Zeroizing::new(text("private_key", true)?.unwrap_or_default());
    let key = rsa_key(&pem).map_err(|reason| format!("private_key: {reason}"))?;
    let token_uri = text("token_uri", false)?;
    if let Some(uri) = &token_uri
        && url::Url::parse(uri).is_err()
    {
        return Err("token_uri: is not a URL".into());
    }
    Ok(ServiceAccountKey {
        client_email,
        private_key_id: text("private_key_id", false)?,
        token_uri,
        key,
    })
}

fn rsa_key(pem: &str) -> Result<RsaKeyPair, String> {
    let (label, der) = pem_to_der(pem).map_err(|r| format!("is not a PEM private key: it {r}"))?;
    match label.as_str() {
        "PRIVATE KEY" | "" => RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            format!("is not a usable RSA private key (PKCS#8, 2048 bits or more): {e}")
        }),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map_err(|e| {
            format!("is not a usable RSA private key (PKCS#1, 2048 bits or more): {e}")
        }),
        _ => Err("is not an RSA private key (expected BEGIN PRIVATE KEY)".into()),
    }
}

/// The claims of one assertion.
pub struct Assertion<'a> {
    pub scopes: &'a [String],
    /// The user to impersonate (domain-wide delegation).
    pub subject: Option<&'a str>,
    /// The token URL, which is also the audience.
    pub audience: &'a str,
    pub now: i64,
}

impl ServiceAccountKey {
    /// The signed JWT assertion (header.claims.signature, base64url without padding).
    pub fn assertion(&self, claims: &Assertion<'_>) -> Result<SecretString, AuthError> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = json!(kid);
        }
        let mut body = json!({
            "iss": self.client_email,
            "scope": claims.scopes.join(" "),
            "aud": claims.audience,
            "iat": claims.now,
            "exp": claims.now.saturating_add(ASSERTION_LIFETIME),
        });
        if let Some(subject) = claims.subject {
            body["sub"] = json!(subject);
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(body.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                AuthError::field(
                    "credentials_json.private_key",
                    "could not sign with this key",
                )
            })?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// Exchanges a fresh assertion at `token_url` for an access token. The provider's 400/401
/// (`invalid_grant`: key deleted, delegation revoked, clock skew) is
/// [`AuthError::Rejected`].
pub fn obtain(
    net: &Net,
    key: &ServiceAccountKey,
    token_url: &str,
    scopes: &[String],
    subject: Option<&str>,
    now: i64,
) -> Result<IssuedToken, AuthError> {
    if scopes.is_empty() {
        return Err(AuthError::field(
            "scopes",
            "is required: a service account must name the scopes it asks for",
        ));
    }
    let assertion = key.assertion(&Assertion {
        scopes,
        subject,
        audience: token_url,
        now,
    })?;
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", GRANT_TYPE)
        .append_pair(
            "assertion",
            secrecy::ExposeSecret::expose_secret(&assertion),
        )
        .finish();
    let body = zeroize::Zeroizing::new(body);
    let request = http::Request::post(token_url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(body.as_bytes().to_vec())
        .map_err(|_| AuthError::field("token_url", "is not a usable URL"))?;
    let answer = token_endpoint(net, request, &[])?;
    parse_response(&answer, now)
}

/// `access_token` and `expires_in` (3600 s when absent) from a token response.
pub fn parse_response(body: &[u8], now: i64) -> Result<IssuedToken, AuthError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::Upstream("the token endpoint did not answer with JSON".into()))?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Upstream("the token response has no access_token".into()))?;
    let lifetime = match value.get("expires_in") {
        None | Some(Value::Null) => ASSERTION_LIFETIME,
        Some(raw) => jwt::seconds(raw).ok_or_else(|| {
            AuthError::Upstream("the token response's expires_in is not a number".into())
        })?,
    };
    Ok(IssuedToken {
        access_token: AccessToken::new(token),
        expires_at: Some(now.saturating_add(lifetime)),
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn reason(value: Value) -> String {
        check_key(&value).unwrap_err()
    }

    #[test]
    fn key_errors_name_the_field() {
        let good_shape = |extra: Value| {
            let mut base = json!({
                "type": "service_account",
                "client_email": "bot@project.iam.gserviceaccount.com",
                "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            });
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    base.as_object_mut().unwrap().remove(k);
                } else {
                    base[k] = v.clone();
                }
            }
            base
        };
        assert!(reason(good_shape(json!({"client_email": null}))).starts_with("client_email:"));
        assert!(reason(good_shape(json!({"client_email": 5}))).starts_with("client_email:"));
        assert!(reason(good_shape(json!({"client_email": "nobody"}))).starts_with("client_email:"));
        assert!(reason(good_shape(json!({"private_key": null}))).starts_with("private_key:"));
        let malformed = reason(good_shape(json!({})));
        assert!(
            malformed.starts_with("private_key: is not a usable RSA private key"),
            "{malformed}"
        );
        let garbage = reason(good_shape(
            json!({"private_key": "-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----"}),
        ));
        assert!(
            garbage.starts_with("private_key: is not a PEM"),
            "{garbage}"
        );
        assert!(reason(good_shape(json!({"type": "authorized_user"}))).starts_with("type:"));
        assert!(reason(json!(["x"])).contains("JSON key"));
        assert!(reason(json!("{not json")).contains("JSON key"));
    }

    #[test]
    fn scopes_come_from_the_setting_or_the_fallback() {
        assert_eq!(scopes(Some(&json!("a b,c")), &[]), ["a", "b", "c"]);
        assert_eq!(scopes(Some(&json!(["x", 1, "y"])), &[]), ["x", "y"]);
        assert_eq!(scopes(None, &["d".to_string()]), ["d"]);
    }

    #[test]
    fn token_response_expiry() {
        let r = parse_response(br#"{"access_token":"a","expires_in":120}"#, 1000).unwrap();
        assert_eq!(r.expires_at, Some(1120));
        let r = parse_response(br#"{"access_token":"a"}"#, 1000).unwrap();
        assert_eq!(r.expires_at, Some(1000 + ASSERTION_LIFETIME));
        assert!(parse_response(br#"{"error":"x"}"#, 0).is_err());
    }
}
