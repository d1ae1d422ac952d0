//! OAuth 1.0a (RFC 5849): the consumer an integration configures, the token credentials a
//! connection keeps, request signing ([`sign`]) and the three-legged flow's protocol steps
//! ([`flow`]).
//!
//! **The browser flow** (the service wires the redirect and callback pages):
//!
//! 1. `let endpoints = Endpoints::from_config(&integration_config, &connection_params)?;`
//!    `let consumer = Consumer::from_config(&integration_config)?;` — both name the missing or
//!    invalid field (`consumer_key`, `private_key`, `request_token_url`, `{variable}` …).
//! 2. `let temporary = request_token(&net, &endpoints, &consumer, &callback_url, clock.unix())?;`
//!    POSTs to the request-token URL with `oauth_callback` and requires
//!    `oauth_callback_confirmed=true`. Keep `temporary` in the pending flow (seal its
//!    `token_secret`), keyed by `temporary.token`.
//! 3. `let url = authorize_url(&endpoints, &temporary)?;` — send the browser there; it
//!    carries `oauth_token` and the integration's `authorization_params`.
//! 4. The provider redirects to the callback with `oauth_token` and `oauth_verifier`. Find the
//!    pending flow by `oauth_token` (refuse an unknown or reused one), then
//!    `let tokens = access_token(&net, &endpoints, &consumer, &temporary, &verifier, clock.unix())?;`
//! 5. Seal `tokens.token` as the connection secret `oauth_token` and `tokens.token_secret`
//!    as `oauth_token_secret`; `tokens.extra` (`user_id`, `screen_name`, …) are plain values.
//!    From then on [`OAuth1`] signs requests for the connection.
//!
//! Wire keys: the integration's `consumer_key`, `signature_method`, `consumer_secret` and
//! `private_key` (sealed), its three URLs and `authorization_params`; the connection's
//! `oauth_token` and `oauth_token_secret` (sealed). Errors never carry a secret: a
//! provider's refusal is [`AuthError::Rejected`] with at most its `oauth_problem`, a
//! malformed answer names what is missing from it.

mod flow;
mod sign;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use flow::{
    Endpoints, TemporaryCredentials, TokenCredentials, access_token, authorize_url, request_token,
};
pub use sign::Signer;

use super::endpoint::pem_to_der;
use super::{AuthError, Fields, Injection, Scheme};
use crate::clock::Clock;
use crate::providers::SignatureMethod;
use crate::secret::{ClientSecret, Secret};

/// The consumer (client) credentials of an integration.
#[derive(Clone)]
pub struct Consumer {
    key: String,
    secret: ClientSecret,
    method: SignatureMethod,
    rsa_key: Option<Arc<rsa::PrivateKey>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("key", &self.key)
            .field("method", &self.method)
            .field("secret", &self.secret)
            .field("rsa_key", &self.rsa_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `signature_method` as configured; HMAC-SHA1 when absent.
fn signature_method(raw: Option<&str>) -> Result<SignatureMethod, AuthError> {
    match raw {
        None => Ok(SignatureMethod::default()),
        Some(raw) => SignatureMethod::parse(raw).ok_or_else(|| {
            let names: Vec<&str> = SignatureMethod::ALL.iter().map(|m| m.as_str()).collect();
            AuthError::field(
                "signature_method",
                format!("must be one of {}", names.join(", ")),
            )
        }),
    }
}

impl Consumer {
    /// A consumer for one signature method. `secret` is required for every method but
    /// RSA-SHA1, which needs `private_key_pem` (PKCS#8 or PKCS#1) instead.
    pub fn new(
        key: &str,
        secret: Option<&str>,
        method: SignatureMethod,
        private_key_pem: Option<&str>,
    ) -> Result<Consumer, AuthError> {
        if key.is_empty() {
            return Err(AuthError::field("consumer_key", "is required"));
        }
        let rsa_key = match method {
            SignatureMethod::RsaSha1 => {
                let pem = private_key_pem
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| AuthError::field("private_key", "is required for RSA-SHA1"))?;
                let key = parse_rsa_key(pem).map_err(|r| AuthError::field("private_key", r))?;
                Some(Arc::new(key))
            }
            _ => None,
        };
        let secret = match (secret.filter(|s| !s.is_empty()), method) {
            (Some(s), _) => s.to_string(),
            (None, SignatureMethod::RsaSha1) => String::new(),
            (None, m) => {
                return Err(AuthError::field(
                    "consumer_secret",
                    format!("is required for {}", m.as_str()),
                ));
            }
        };
        Ok(Consumer {
            key: key.to_string(),
            secret: ClientSecret::new(secret),
            method,
            rsa_key,
        })
    }

    /// From an integration's configuration (secrets opened): `consumer_key`,
    /// `consumer_secret`, `signature_method` (HMAC-SHA1 when absent) and `private_key`.
    pub fn from_config(config: &Map<String, Value>) -> Result<Consumer, AuthError> {
        let text = |name: &str| -> Result<Option<&str>, AuthError> {
            match config.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(AuthError::field(name, "expected a string")),
            }
        };
        let method = signature_method(text("signature_method")?)?;
        let key =
            text("consumer_key")?.ok_or_else(|| AuthError::field("consumer_key", "is required"))?;
        Consumer::new(key, text("consumer_secret")?, method, text("private_key")?)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn method(&self) -> SignatureMethod {
        self.method
    }
}

/// PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) RSA private key.
fn parse_rsa_key(pem: &str) -> Result<rsa::PrivateKey, &'static str> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let (label, der) = pem_to_der(pem)?;
    let parsed = match label.as_str() {
        "PRIVATE KEY" => rsa::PrivateKey::from_pkcs8_der(&der).ok(),
        "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&der).ok(),
        "" => rsa::PrivateKey::from_pkcs8_der(&der)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
            .ok(),
        "ENCRYPTED PRIVATE KEY" => {
            return Err("is encrypted; give the key without a passphrase");
        }
        _ => return Err("is not an RSA private key (expected BEGIN PRIVATE KEY)"),
    };
    parsed.ok_or("is not a well-formed RSA private key (PKCS#8 or PKCS#1 PEM)")
}

/// An OAuth 1.0a connection opened: its integration's consumer settings, the flow's
/// endpoints with the connection's variables filled in, and its token credentials.
#[derive(Debug)]
pub struct OAuth1 {
    consumer_key: Option<String>,
    signature_method: Option<String>,
    consumer_secret: Option<Secret>,
    private_key: Option<Secret>,
    endpoints: Result<Endpoints, AuthError>,
    token: Option<Secret>,
    token_secret: Option<Secret>,
}

impl OAuth1 {
    pub(super) fn open(config: &Fields<'_>, conn: &Fields<'_>) -> Self {
        OAuth1 {
            consumer_key: config.text("consumer_key").map(str::to_string),
            signature_method: config.text("signature_method").map(str::to_string),
            consumer_secret: config.secret("consumer_secret"),
            private_key: config.secret("private_key"),
            endpoints: Endpoints::from_config(config.plain(), &conn.variables()),
            token: conn.secret("oauth_token"),
            token_secret: conn.secret("oauth_token_secret"),
        }
    }

    /// The integration's consumer; `Err` names the missing or unusable field.
    pub fn consumer(&self) -> Result<Consumer, AuthError> {
        let key = self
            .consumer_key
            .as_deref()
            .ok_or_else(|| AuthError::field("consumer_key", "is required"))?;
        Consumer::new(
            key,
            self.consumer_secret.as_ref().map(Secret::expose_secret),
            signature_method(self.signature_method.as_deref())?,
            self.private_key.as_ref().map(Secret::expose_secret),
        )
    }

    /// The flow's URLs; `Err` names the missing field or template variable.
    pub fn endpoints(&self) -> Result<&Endpoints, AuthError> {
        self.endpoints.as_ref().map_err(Clone::clone)
    }
}

impl Scheme for OAuth1 {
    fn injection(&self, clock: &Clock) -> Result<Injection, AuthError> {
        let consumer = self.consumer()?;
        let token = self
            .token
            .as_ref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Missing("oauth_token".into()))?;
        let secret = self
            .token_secret
            .as_ref()
            .ok_or_else(|| AuthError::Missing("oauth_token_secret".into()))?;
        Ok(Injection {
            oauth1: Some(Signer::new(
                consumer,
                Some((token.expose_secret(), secret.expose_secret())),
                clock.clone(),
            )),
            ..Injection::default()
        })
    }
}

/// Checks an integration's OAuth 1.0a configuration (plain and secret values as given)
/// without using it: `Err` names the field (`consumer_key`, `consumer_secret`,
/// `signature_method`, `private_key`).
pub fn check_config(config: &Map<String, Value>) -> Result<(), AuthError> {
    Consumer::from_config(config).map(|_| ())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;
    use crate::secret::SecretFields;

    #[test]
    fn config_errors_name_the_field() {
        let cfg = |v: Value| v.as_object().unwrap().clone();
        let cases = [
            (serde_json::json!({"consumer_secret": "s"}), "consumer_key"),
            (serde_json::json!({"consumer_key": "k"}), "consumer_secret"),
            (
                serde_json::json!({"consumer_key": "k", "consumer_secret": "s", "signature_method": "MD5"}),
                "signature_method",
            ),
            (
                serde_json::json!({"consumer_key": "k", "signature_method": "RSA-SHA1"}),
                "private_key",
            ),
            (
                serde_json::json!({"consumer_key": "k", "signature_method": "RSA-SHA1",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}),
                "private_key",
            ),
            (
                serde_json::json!({"consumer_key": "k", "signature_method": "RSA-SHA1",
                    "private_key": "not a key at all"}),
                "private_key",
            ),
            (
                serde_json::json!({"consumer_key": 7, "consumer_secret": "s"}),
                "consumer_key",
            ),
        ];
        for (config, field) in cases {
            match check_config(&cfg(config.clone())) {
                Err(AuthError::Field { field: f, .. }) => assert_eq!(f, field, "{config}"),
                other => panic!("{config}: {other:?}"),
            }
        }
        let ok = cfg(serde_json::json!({"consumer_key": "k", "consumer_secret": "s"}));
        assert_eq!(
            Consumer::from_config(&ok).unwrap().method(),
            SignatureMethod::HmacSha1
        );
    }

    #[test]
    fn connections_sign_with_the_consumer_and_their_tokens() {
        let config = serde_json::json!({"consumer_key": "ck", "signature_method": "PLAINTEXT",
            "request_token_url": "https://p.example/rt", "authorization_url": "https://p.example/a",
            "access_token_url": "https://p.example/at"});
        let config = config.as_object().unwrap();
        let sealed: SecretFields =
            serde_json::from_value(serde_json::json!({"consumer_secret": "cs"})).unwrap();
        let tokens: SecretFields = serde_json::from_value(
            serde_json::json!({"oauth_token": "t", "oauth_token_secret": "ts"}),
        )
        .unwrap();
        let plain = Map::new();
        let opened = OAuth1::open(&Fields::new(config, &sealed), &Fields::new(&plain, &tokens));
        assert_eq!(opened.endpoints().unwrap().access_token_url.path(), "/at");
        let injection = opened.injection(&Clock::system()).unwrap();
        let mut url = url::Url::parse("https://api.example/x").unwrap();
        let mut headers = http::HeaderMap::new();
        injection
            .apply(&http::Method::GET, &mut url, &mut headers, None)
            .unwrap();
        let header = headers[http::header::AUTHORIZATION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(header.contains("oauth_signature=\"cs%26ts\""), "{header}");
        let shown = format!("{opened:?}");
        assert!(
            !shown.contains("\"cs\"") && !shown.contains("ts\""),
            "{shown}"
        );

        let none = SecretFields::default();
        let untokened = OAuth1::open(&Fields::new(config, &sealed), &Fields::new(&plain, &none));
        assert!(matches!(
            untokened.injection(&Clock::system()),
            Err(AuthError::Missing(m)) if m == "oauth_token"
        ));
    }
}
