//! OAuth 1.0a (RFC 5849): request signing, and the three-legged flow's protocol steps.
//!
//! **Signing.** [`Signer`] holds the consumer (key, secret or RSA key, method) and the
//! token credentials; [`Injection::apply`](super::Injection::apply) asks it for an
//! `Authorization: OAuth …` header over the final method, URL and form body. The base string
//! follows §3.4.1 (method, base URI without query or default port, parameters from the query,
//! an `application/x-www-form-urlencoded` body and the `oauth_*` set, each encoded per §3.6
//! and sorted); the signature is HMAC-SHA1, HMAC-SHA256, PLAINTEXT or RSA-SHA1. The nonce
//! comes from the system CSPRNG, the timestamp from the service's clock.
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
//!    From then on [`injection`] signs requests for the connection.
//!
//! Errors never carry a secret: a provider's refusal is [`AuthError::Rejected`] with at most
//! its `oauth_problem`, a malformed answer names what is missing from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SecureRandom as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::{AuthError, Credentials, Injection, pem_to_der, token_endpoint};
use crate::clock::Clock;
use crate::net::Net;
use crate::providers::SignatureMethod;
use crate::providers::fields::render_template;

/// The consumer (client) credentials of an integration.
#[derive(Clone)]
pub struct Consumer {
    key: String,
    secret: SecretString,
    method: SignatureMethod,
    rsa_key: Option<Arc<rsa::PrivateKey>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("key", &self.key)
            .field("method", &self.method)
            .field("secret", &"[redacted]")
            .field("rsa_key", &self.rsa_key.as_ref().map(|_| "[redacted]"))
            .finish()
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
            secret: SecretString::from(secret),
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
        let method = match text("signature_method")? {
            None => SignatureMethod::default(),
            Some(raw) => SignatureMethod::parse(raw).ok_or_else(|| {
                let names: Vec<&str> = SignatureMethod::ALL.iter().map(|m| m.as_str()).collect();
                AuthError::field(
                    "signature_method",
                    format!("must be one of {}", names.join(", ")),
                )
            })?,
        };
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

/// Checks an integration's OAuth 1.0a configuration without using it: `Err` names the
/// field (`consumer_key`, `consumer_secret`, `signature_method`, `private_key`).
pub fn check_config(config: &Map<String, Value>) -> Result<(), AuthError> {
    Consumer::from_config(config).map(|_| ())
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

/// Signs requests for one connection: consumer plus token credentials.
pub struct Signer {
    consumer: Consumer,
    token: Option<SecretString>,
    token_secret: SecretString,
    clock: Clock,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("consumer", &self.consumer)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// `token` is the token and its secret; `None` signs with the consumer alone
    /// (two-legged requests).
    pub fn new(consumer: Consumer, token: Option<(&str, &str)>, clock: Clock) -> Signer {
        let (token, token_secret) = match token {
            Some((t, s)) => (Some(SecretString::from(t.to_string())), s.to_string()),
            None => (None, String::new()),
        };
        Signer {
            consumer,
            token,
            token_secret: SecretString::from(token_secret),
            clock,
        }
    }

    /// The `Authorization` header value for one request, with a fresh nonce and the
    /// clock's time.
    pub fn authorization(
        &self,
        method: &http::Method,
        url: &Url,
        form_body: Option<&[u8]>,
    ) -> Result<SecretString, AuthError> {
        let request = Signing {
            consumer: &self.consumer,
            token: self.token.as_ref().map(|t| t.expose_secret()),
            token_secret: self.token_secret.expose_secret(),
            protocol: &[],
            nonce: &nonce()?,
            timestamp: self.clock.unix(),
        };
        request.header(method.as_str(), url, form_body)
    }
}

/// The injection for an OAuth 1.0a connection: the integration's consumer and the
/// connection's `oauth_token` / `oauth_token_secret`.
pub fn injection(creds: &Credentials, clock: Clock) -> Result<Injection, AuthError> {
    let consumer = Consumer::from_config(&creds.integration)?;
    let token = creds.connection_str("oauth_token")?;
    let secret = creds
        .connection
        .get("oauth_token_secret")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::Missing("oauth_token_secret".into()))?;
    Ok(Injection {
        oauth1: Some(Signer::new(consumer, Some((token, secret)), clock)),
        ..Injection::default()
    })
}

/// One signature computation; everything that varies per request is explicit.
struct Signing<'a> {
    consumer: &'a Consumer,
    token: Option<&'a str>,
    token_secret: &'a str,
    /// Flow parameters beside the fixed set: `oauth_callback`, `oauth_verifier`.
    protocol: &'a [(&'a str, &'a str)],
    nonce: &'a str,
    timestamp: i64,
}

impl Signing<'_> {
    /// The `oauth_*` parameters, without the signature.
    fn oauth_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("oauth_consumer_key".to_string(), self.consumer.key.clone()),
            ("oauth_nonce".to_string(), self.nonce.to_string()),
            (
                "oauth_signature_method".to_string(),
                self.consumer.method.as_str().to_string(),
            ),
            ("oauth_timestamp".to_string(), self.timestamp.to_string()),
            ("oauth_version".to_string(), "1.0".to_string()),
        ];
        if let Some(token) = self.token {
            params.push(("oauth_token".to_string(), token.to_string()));
        }
        for (k, v) in self.protocol {
            params.push(((*k).to_string(), (*v).to_string()));
        }
        params
    }

    fn header(
        &self,
        method: &str,
        url: &Url,
        form_body: Option<&[u8]>,
    ) -> Result<SecretString, AuthError> {
        let mut params = self.oauth_params();
        let base = base_string(method, url, form_body, &params);
        let signature = self.signature(&base)?;
        params.push(("oauth_signature".to_string(), signature));
        params.sort();
        let fields: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
            .collect();
        Ok(SecretString::from(format!("OAuth {}", fields.join(", "))))
    }

    /// §3.4.2–3.4.4: the signature over `base`.
    fn signature(&self, base: &str) -> Result<String, AuthError> {
        let key = format!(
            "{}&{}",
            encode(self.consumer.secret.expose_secret()),
            encode(self.token_secret)
        );
        let key = zeroize::Zeroizing::new(key);
        let hmac = |algorithm| {
            let key = ring::hmac::Key::new(algorithm, key.as_bytes());
            STANDARD.encode(ring::hmac::sign(&key, base.as_bytes()).as_ref())
        };
        Ok(match self.consumer.method {
            SignatureMethod::HmacSha1 => hmac(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            SignatureMethod::HmacSha256 => hmac(ring::hmac::HMAC_SHA256),
            SignatureMethod::Plaintext => key.to_string(),
            SignatureMethod::RsaSha1 => {
                let rsa_key =
                    self.consumer.rsa_key.as_ref().ok_or_else(|| {
                        AuthError::field("private_key", "is required for RSA-SHA1")
                    })?;
                let digest =
                    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, base.as_bytes());
                // RFC 8017 §9.2 note 1: the DER DigestInfo prefix for SHA-1.
                const SHA1_DIGEST_INFO: [u8; 15] = [
                    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
                    0x04, 0x14,
                ];
                let padding = rsa::Pkcs1v15Sign {
                    hash_len: Some(20),
                    prefix: Box::new(SHA1_DIGEST_INFO),
                };
                let signature = rsa_key.sign(padding, digest.as_ref()).map_err(|_| {
                    AuthError::field("private_key", "could not sign with this RSA key")
                })?;
                STANDARD.encode(signature)
            }
        })
    }
}

/// §3.4.1: `METHOD&base-uri&normalized-parameters`, each part encoded per §3.6.
fn base_string(
    method: &str,
    url: &Url,
    form_body: Option<&[u8]>,
    oauth_params: &[(String, String)],
) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .chain(form_body.into_iter().flat_map(url::form_urlencoded::parse))
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    params.extend(oauth_params.iter().map(|(k, v)| (encode(k), encode(v))));
    params.sort();
    let normalized: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(&base_uri(url)),
        encode(&normalized.join("&"))
    )
}

/// §3.4.1.2: scheme and host lower-case, the port only when not the scheme's default, the
/// path (`/` when empty), no query or fragment.
fn base_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    format!("{}://{host}{port}{path}", url.scheme().to_ascii_lowercase())
}

/// §3.6: every byte but ALPHA, DIGIT, `-`, `.`, `_`, `~` as `%XX` with upper-case hex.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// 22 random alphanumerics (≈131 bits) from the system CSPRNG.
fn nonce() -> Result<String, AuthError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(22);
    while out.len() < 22 {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)
            .map_err(|_| AuthError::Invalid("the system random generator failed".into()))?;
        // Rejection sampling keeps every character equally likely (248 = 4 × 62).
        for byte in bytes.into_iter().filter(|b| *b < 248) {
            if out.len() < 22 {
                out.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

/// The three URLs of the flow and the extra authorization parameters, from an
/// integration's configuration with the connection's `{variable}`s filled in.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub request_token_url: Url,
    pub authorization_url: Url,
    pub access_token_url: Url,
    pub authorization_params: BTreeMap<String, String>,
}

impl Endpoints {
    pub fn from_config(
        config: &Map<String, Value>,
        vars: &Map<String, Value>,
    ) -> Result<Endpoints, AuthError> {
        let url = |name: &str| -> Result<Url, AuthError> {
            let template = config
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| AuthError::field(name, "is required"))?;
            let rendered =
                render_template(template, vars).map_err(|e| AuthError::field(e.field, e.reason))?;
            Url::parse(&rendered).map_err(|_| AuthError::field(name, "is not a valid URL"))
        };
        let mut authorization_params = BTreeMap::new();
        match config.get("authorization_params") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| {
                        AuthError::field(format!("authorization_params.{k}"), "expected a string")
                    })?;
                    authorization_params.insert(k.clone(), v.to_string());
                }
            }
            Some(_) => {
                return Err(AuthError::field(
                    "authorization_params",
                    "expected an object",
                ));
            }
        }
        Ok(Endpoints {
            request_token_url: url("request_token_url")?,
            authorization_url: url("authorization_url")?,
            access_token_url: url("access_token_url")?,
            authorization_params,
        })
    }
}

/// Temporary credentials (the request token, §2.1), kept in the pending flow.
pub struct TemporaryCredentials {
    pub token: String,
    pub token_secret: SecretString,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("token", &self.token)
            .field("token_secret", &"[redacted]")
            .finish()
    }
}

/// Token credentials (§2.3): what a connection keeps, plus whatever else the provider
/// returned (`user_id`, `screen_name`, …).
pub struct TokenCredentials {
    pub token: SecretString,
    pub token_secret: SecretString,
    pub extra: BTreeMap<String, String>,
}

impl std::fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCredentials")
            .field("token", &"[redacted]")
            .field("token_secret", &"[redacted]")
            .field("extra", &self.extra)
            .finish()
    }
}

/// §2.1: asks for temporary credentials, announcing `callback_url`.
pub fn request_token(
    net: &Net,
    endpoints: &Endpoints,
    consumer: &Consumer,
    callback_url: &str,
    now: i64,
) -> Result<TemporaryCredentials, AuthError> {
    let signing = Signing {
        consumer,
        token: None,
        token_secret: "",
        protocol: &[("oauth_callback", callback_url)],
        nonce: &nonce()?,
        timestamp: now,
    };
    let secrets = [consumer.secret.expose_secret()];
    let mut answer = post(net, &endpoints.request_token_url, &signing, &secrets)?;
    if answer.get("oauth_callback_confirmed").map(String::as_str) != Some("true") {
        return Err(AuthError::Upstream(
            "the request-token response lacks oauth_callback_confirmed=true (not OAuth 1.0a)"
                .into(),
        ));
    }
    let (token, token_secret) = token_pair(&mut answer, "request-token")?;
    Ok(TemporaryCredentials {
        token: token.expose_secret().to_string(),
        token_secret,
    })
}

/// §2.2: where to send the user's browser: the authorization URL with `oauth_token` and
/// the integration's extra parameters.
pub fn authorize_url(
    endpoints: &Endpoints,
    temporary: &TemporaryCredentials,
) -> Result<String, AuthError> {
    let mut url = endpoints.authorization_url.clone();
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("oauth_token", &temporary.token);
        for (k, v) in &endpoints.authorization_params {
            pairs.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

/// §2.3: exchanges the authorized temporary credentials and the callback's
/// `oauth_verifier` for token credentials.
pub fn access_token(
    net: &Net,
    endpoints: &Endpoints,
    consumer: &Consumer,
    temporary: &TemporaryCredentials,
    verifier: &str,
    now: i64,
) -> Result<TokenCredentials, AuthError> {
    if verifier.is_empty() {
        return Err(AuthError::Invalid(
            "the callback carries no oauth_verifier".into(),
        ));
    }
    let signing = Signing {
        consumer,
        token: Some(&temporary.token),
        token_secret: temporary.token_secret.expose_secret(),
        protocol: &[("oauth_verifier", verifier)],
        nonce: &nonce()?,
        timestamp: now,
    };
    let secrets = [
        consumer.secret.expose_secret(),
        temporary.token_secret.expose_secret(),
        verifier,
    ];
    let mut answer = post(net, &endpoints.access_token_url, &signing, &secrets)?;
    let (token, token_secret) = token_pair(&mut answer, "access-token")?;
    answer.remove("oauth_callback_confirmed");
    Ok(TokenCredentials {
        token,
        token_secret,
        extra: answer,
    })
}

/// A signed, empty-bodied POST to a flow endpoint; the form-encoded answer as a map.
fn post(
    net: &Net,
    url: &Url,
    signing: &Signing<'_>,
    secrets: &[&str],
) -> Result<BTreeMap<String, String>, AuthError> {
    let header = signing.header("POST", url, None)?;
    let mut value = http::HeaderValue::from_str(header.expose_secret()).map_err(|_| {
        AuthError::Invalid("the OAuth 1.0a header holds characters a header cannot carry".into())
    })?;
    value.set_sensitive(true);
    let request = http::Request::post(url.as_str())
        .header(http::header::AUTHORIZATION, value)
        .header(
            http::header::ACCEPT,
            "application/x-www-form-urlencoded, text/plain",
        )
        .body(Vec::new())
        .map_err(|_| AuthError::Invalid("could not build the token request".into()))?;
    let body = token_endpoint(net, request, secrets)?;
    Ok(url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// Takes `oauth_token` and `oauth_token_secret` out of a flow answer.
fn token_pair(
    answer: &mut BTreeMap<String, String>,
    step: &str,
) -> Result<(SecretString, SecretString), AuthError> {
    let token = answer
        .remove("oauth_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Upstream(format!("the {step} response lacks oauth_token")))?;
    let secret = answer.remove("oauth_token_secret").ok_or_else(|| {
        AuthError::Upstream(format!("the {step} response lacks oauth_token_secret"))
    })?;
    Ok((SecretString::from(token), SecretString::from(secret)))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn encoding_follows_section_3_6() {
        assert_eq!(encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
        assert_eq!(encode("An encoded string!"), "An%20encoded%20string%21");
        assert_eq!(encode("Dogs, Cats & Mice"), "Dogs%2C%20Cats%20%26%20Mice");
        assert_eq!(encode("☃"), "%E2%98%83");
        assert_eq!(encode("-._~azAZ09"), "-._~azAZ09");
    }

    #[test]
    fn base_string_matches_the_rfc_5849_example() {
        // RFC 5849 §3.4.1.1: query, form body and Authorization parameters together.
        let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let oauth = pairs(&[
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]);
        let base = base_string("post", &url, Some(b"c2&a3=2+q"), &oauth);
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn base_uri_drops_default_ports_query_and_fragment() {
        let cases = [
            (
                "HTTP://EXAMPLE.COM:80/r%20v/X?id=123",
                "http://example.com/r%20v/X",
            ),
            (
                "https://www.example.net:8080/?q=1",
                "https://www.example.net:8080/",
            ),
            ("https://api.example.com:443", "https://api.example.com/"),
            ("http://127.0.0.1:9000/a#frag", "http://127.0.0.1:9000/a"),
        ];
        for (raw, expected) in cases {
            assert_eq!(base_uri(&Url::parse(raw).unwrap()), expected, "{raw}");
        }
    }

    fn consumer(method: SignatureMethod) -> Consumer {
        Consumer::new("ck", Some("cs"), method, None).unwrap()
    }

    #[test]
    fn plaintext_signature_is_the_encoded_key_pair() {
        let c = consumer(SignatureMethod::Plaintext);
        let s = Signing {
            consumer: &c,
            token: Some("t"),
            token_secret: "t s&",
            protocol: &[],
            nonce: "n",
            timestamp: 1_700_000_000,
        };
        assert_eq!(s.signature("ignored").unwrap(), "cs&t%20s%26");
        let header = s
            .header("GET", &Url::parse("https://a.example/x").unwrap(), None)
            .unwrap();
        assert!(
            header
                .expose_secret()
                .contains("oauth_signature=\"cs%26t%2520s%2526\""),
            "{}",
            header.expose_secret()
        );
    }

    #[test]
    fn hmac_signatures_are_deterministic_and_cover_the_request() {
        for method in [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256] {
            let c = consumer(method);
            let s = Signing {
                consumer: &c,
                token: Some("tok"),
                token_secret: "ts",
                protocol: &[],
                nonce: "abc",
                timestamp: 1_700_000_000,
            };
            let url = Url::parse("https://a.example/x?b=1").unwrap();
            let one = s.header("GET", &url, None).unwrap();
            let again = s.header("GET", &url, None).unwrap();
            let other_url = s
                .header("GET", &Url::parse("https://a.example/x?b=2").unwrap(), None)
                .unwrap();
            let other_body = s.header("POST", &url, Some(b"c=3")).unwrap();
            assert_eq!(one.expose_secret(), again.expose_secret());
            assert_ne!(one.expose_secret(), other_url.expose_secret());
            assert_ne!(one.expose_secret(), other_body.expose_secret());
            let h = one.expose_secret();
            assert!(h.starts_with("OAuth "), "{h}");
            for part in [
                "oauth_consumer_key=\"ck\"",
                "oauth_token=\"tok\"",
                "oauth_nonce=\"abc\"",
                "oauth_timestamp=\"1700000000\"",
                "oauth_version=\"1.0\"",
                &format!("oauth_signature_method=\"{}\"", method.as_str()),
            ] {
                assert!(h.contains(part), "{part} missing in {h}");
            }
            assert!(!h.contains("cs") && !h.contains("\"ts\""), "{h}");
        }
    }

    #[test]
    fn nonces_are_alphanumeric_and_distinct() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

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
    fn endpoints_render_variables_and_name_unknown_ones() {
        let config = serde_json::json!({
            "request_token_url": "https://{site}.example/rt",
            "authorization_url": "https://{site}.example/auth?x=1",
            "access_token_url": "https://{site}.example/at",
            "authorization_params": {"scope": "read,write", "name": "keyport"},
        });
        let config = config.as_object().unwrap();
        let vars = serde_json::json!({"site": "acme"});
        let endpoints = Endpoints::from_config(config, vars.as_object().unwrap()).unwrap();
        let temporary = TemporaryCredentials {
            token: "rt 1".into(),
            token_secret: SecretString::from("x".to_string()),
        };
        assert_eq!(
            authorize_url(&endpoints, &temporary).unwrap(),
            "https://acme.example/auth?x=1&oauth_token=rt+1&name=keyport&scope=read%2Cwrite"
        );
        match Endpoints::from_config(config, &Map::new()) {
            Err(AuthError::Field { field, .. }) => assert_eq!(field, "site"),
            other => panic!("{other:?}"),
        }
    }
}
