//! How a request is authenticated for a connection: the one place that turns a scheme's
//! stored material into what goes on the wire. `Credentials` is the opened material (never
//! logged: hand-written `Debug`); `Injection` is what to add to one outgoing request.
//! Token-issuing schemes (OAuth 2.0, BASIC_WITH_JWT, GOOGLE_SERVICE_ACCOUNT) obtain their
//! access token elsewhere and are injected here as a bearer token; OAuth 1.0a signs each
//! request (`Injection::oauth1`).
//!
//! One file per scheme that talks to a provider: [`oauth1`] (RFC 5849 signing and the
//! three-legged flow's protocol steps), [`jwt`] (BASIC_WITH_JWT login), [`google`]
//! (service-account JWT assertions, RFC 7523). Each takes the `Net` client and `now` as
//! arguments and never stores anything: caching and status changes are the service's.

pub mod google;
pub mod jwt;
pub mod oauth1;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::domain::AuthScheme;
use crate::net::{Net, NetError};
use crate::providers::App;
use crate::providers::catalog::{KeyLocation, SchemeDetails};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the connection lacks {0}; reconnect it")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
    /// A configuration or credential field is missing or unusable; `field` names it
    /// (`private_key`, `credentials_json.client_email`, …). Never carries the value.
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    /// The provider refused the credentials (HTTP 400 or 401 from a token endpoint): the
    /// connection needs new credentials, retrying will not help.
    #[error("the provider refused the credentials (HTTP {status}{})", reason_suffix(.reason))]
    Rejected { status: u16, reason: String },
    /// The provider could not be reached or answered something unusable; worth retrying.
    #[error("{0}")]
    Upstream(String),
    #[error("the provider did not answer in time")]
    Timeout,
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

impl AuthError {
    /// Stable machine-readable code. A field is bad input; a provider that failed or timed
    /// out is upstream; a credential that is missing, unusable or refused conflicts with
    /// what the request needs (reconnect it).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Field { .. } => "invalid_input",
            AuthError::Upstream(_) => "upstream_failed",
            AuthError::Timeout => "upstream_timeout",
            AuthError::Missing(_) | AuthError::Invalid(_) | AuthError::Rejected { .. } => {
                "conflict"
            }
        }
    }

    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AuthError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// An access token a token endpoint issued, with its expiry (Unix seconds) when known.
pub struct IssuedToken {
    pub access_token: SecretString,
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A connection's opened credential material, with its integration's configuration.
pub struct Credentials {
    pub scheme: AuthScheme,
    /// Integration configuration, secrets included (client_secret…).
    pub integration: Map<String, Value>,
    /// Connection parameters, secrets included (token, api_key, access_token…).
    pub connection: Map<String, Value>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field(
                "integration_keys",
                &self.integration.keys().collect::<Vec<_>>(),
            )
            .field(
                "connection_keys",
                &self.connection.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    pub fn connection_str(&self, key: &str) -> Result<&str, AuthError> {
        self.connection
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::Missing(key.to_string()))
    }

    pub fn integration_str(&self, key: &str) -> Option<&str> {
        self.integration.get(key).and_then(Value::as_str)
    }
}

/// What to add to one outgoing request.
#[derive(Default)]
pub struct Injection {
    pub headers: Vec<(String, SecretString)>,
    pub query: Vec<(String, SecretString)>,
    /// OAuth 1.0a: an `Authorization: OAuth …` header computed per request over the final
    /// method, URL and form body.
    pub oauth1: Option<oauth1::Signer>,
}

impl std::fmt::Debug for Injection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injection")
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "query",
                &self.query.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("oauth1", &self.oauth1)
            .finish()
    }
}

impl Injection {
    pub fn bearer(token: &str) -> Injection {
        Injection {
            headers: vec![(
                "Authorization".into(),
                SecretString::from(format!("Bearer {token}")),
            )],
            ..Injection::default()
        }
    }

    fn add(&mut self, location: KeyLocation, name: &str, value: String) {
        let entry = (name.to_string(), SecretString::from(value));
        match location {
            KeyLocation::Header => self.headers.push(entry),
            KeyLocation::Query => self.query.push(entry),
        }
    }

    /// Names of the headers this injection sets (lower-case), so callers can drop any the
    /// client tried to set itself.
    pub fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        if self.oauth1.is_some() && !names.iter().any(|n| n == "authorization") {
            names.push("authorization".into());
        }
        names
    }

    /// Adds the injection to a request: headers replace same-named ones, query parameters
    /// replace same-named ones. `method` and `form_body` (an
    /// `application/x-www-form-urlencoded` body, if that is what is sent) are what a
    /// per-request signature covers: with an OAuth 1.0a signer, the `Authorization` header
    /// is computed last, over the final URL (query injection included) and that body.
    pub fn apply(
        &self,
        method: &http::Method,
        url: &mut url::Url,
        headers: &mut http::HeaderMap,
        form_body: Option<&[u8]>,
    ) -> Result<(), AuthError> {
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| AuthError::Invalid(format!("bad header name {name:?}")))?;
            let mut value = http::HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                AuthError::Invalid("the credential holds characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if !self.query.is_empty() {
            let names: Vec<&str> = self.query.iter().map(|(n, _)| n.as_str()).collect();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !names.contains(&k.as_ref()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in &kept {
                pairs.append_pair(k, v);
            }
            for (name, value) in &self.query {
                pairs.append_pair(name, value.expose_secret());
            }
        }
        if let Some(signer) = &self.oauth1 {
            let header = signer.authorization(method, url, form_body)?;
            let mut value = http::HeaderValue::from_str(header.expose_secret()).map_err(|_| {
                AuthError::Invalid(
                    "the OAuth 1.0a header holds characters a header cannot carry".into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        Ok(())
    }
}

fn config_or<'a>(creds: &'a Credentials, key: &str, default: &'a str) -> &'a str {
    creds.integration_str(key).unwrap_or(default)
}

fn location(raw: &str) -> Result<KeyLocation, AuthError> {
    match raw {
        "header" => Ok(KeyLocation::Header),
        "query" => Ok(KeyLocation::Query),
        other => Err(AuthError::Invalid(format!(
            "in: {other:?} is neither header nor query"
        ))),
    }
}

/// The injection for schemes whose credential is static: API_KEY, BEARER_TOKEN, BASIC and
/// NO_AUTH. Token-issuing schemes pass their current access token to `Injection::bearer`.
pub fn static_injection(app: &App, creds: &Credentials) -> Result<Injection, AuthError> {
    let mut injection = Injection::default();
    match creds.scheme {
        AuthScheme::NoAuth => {}
        AuthScheme::BearerToken => injection = Injection::bearer(creds.connection_str("token")?),
        AuthScheme::Basic => {
            let username = creds
                .connection
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or("");
            let password = creds
                .connection
                .get("password")
                .and_then(Value::as_str)
                .unwrap_or("");
            if username.is_empty() && password.is_empty() {
                return Err(AuthError::Missing("username and password".into()));
            }
            let encoded = STANDARD.encode(format!("{username}:{password}"));
            injection.headers.push((
                "Authorization".into(),
                SecretString::from(format!("Basic {encoded}")),
            ));
        }
        AuthScheme::ApiKey => {
            let spec = app.scheme(AuthScheme::ApiKey).map(|s| &s.details);
            let (default_in, default_name, default_prefix, extra) = match spec {
                Some(SchemeDetails::ApiKey(k)) => (
                    k.location.as_str(),
                    k.name.as_str(),
                    k.prefix.as_str(),
                    k.extra.as_slice(),
                ),
                _ => ("header", "Authorization", "Bearer ", &[][..]),
            };
            let loc = location(config_or(creds, "in", default_in))?;
            let name = config_or(creds, "name", default_name);
            let prefix = config_or(creds, "prefix", default_prefix);
            injection.add(
                loc,
                name,
                format!("{prefix}{}", creds.connection_str("api_key")?),
            );
            for extra in extra {
                if let Some(value) = creds
                    .connection
                    .get(&extra.field)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                {
                    injection.add(
                        extra.location,
                        &extra.name,
                        format!("{}{value}", extra.prefix),
                    );
                }
            }
        }
        other => {
            return Err(AuthError::Invalid(format!(
                "{other} credentials are issued by a token endpoint or signed per request, not injected statically"
            )));
        }
    }
    Ok(injection)
}

/// A PEM block's label and DER bytes. Lenient about layout, because a key often arrives
/// through a single-line form field or JSON: line breaks may be real, spaces, or the two
/// characters `\n`. Text without armour is taken as bare base64 DER.
pub(crate) fn pem_to_der(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), &'static str> {
    let text = text.trim();
    let (label, body) = match text.strip_prefix("-----BEGIN ") {
        Some(rest) => {
            let (label, rest) = rest
                .split_once("-----")
                .ok_or("has a malformed BEGIN line")?;
            let end = format!("-----END {label}-----");
            let (body, _) = rest
                .split_once(end.as_str())
                .ok_or("has no matching END line")?;
            (label.to_string(), body)
        }
        None => (String::new(), text),
    };
    let compact: Zeroizing<String> = Zeroizing::new(
        body.replace("\\n", "")
            .replace("\\r", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    if compact.is_empty() {
        return Err("is empty");
    }
    let der = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "is not valid base64 between its BEGIN and END lines")?;
    Ok((label, Zeroizing::new(der)))
}

/// Maps a transport failure to the auth layer's error (no URL, no body).
pub(crate) fn net_error(e: NetError) -> AuthError {
    match e {
        NetError::Timeout => AuthError::Timeout,
        other => AuthError::Upstream(format!("the token endpoint failed: {other}")),
    }
}

/// Sends a token-endpoint request and returns the body of a 2xx answer. 400 and 401 are
/// [`AuthError::Rejected`] with the provider's short reason; anything else is upstream
/// trouble. `secrets` are values that must never appear in an error (a reason quoting one
/// is dropped).
pub(crate) fn token_endpoint(
    net: &Net,
    request: http::Request<Vec<u8>>,
    secrets: &[&str],
) -> Result<Vec<u8>, AuthError> {
    let response = net.send(request).map_err(net_error)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response.into_body());
    }
    let reason = provider_reason(response.body(), secrets);
    match status {
        400 | 401 => Err(AuthError::Rejected { status, reason }),
        _ => Err(AuthError::Upstream(format!(
            "the token endpoint answered HTTP {status}{}",
            reason_suffix(&reason)
        ))),
    }
}

/// The provider's own short explanation from an error body (`error`, `error_description`,
/// `message`, `detail` in JSON, or `oauth_problem` in a form body), made safe to show:
/// printable, at most 200 characters, and dropped if it quotes one of `secrets`.
pub(crate) fn provider_reason(body: &[u8], secrets: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for key in ["error", "error_description", "message", "detail"] {
            if let Some(text) = map.get(key).and_then(Value::as_str) {
                parts.push(text.to_string());
            }
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            if k == "oauth_problem" {
                parts.push(v.into_owned());
            }
        }
    }
    let joined = parts.join(": ");
    if secrets.iter().any(|s| s.len() >= 4 && joined.contains(s)) {
        return String::new();
    }
    let clean: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > 200 {
        format!("{}…", clean.chars().take(200).collect::<String>())
    } else {
        clean
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn pem_layouts_decode_alike() {
        let der = b"\x30\x03\x02\x01\x05";
        let body = STANDARD.encode(der);
        for text in [
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
            format!("-----BEGIN PRIVATE KEY----- {body} -----END PRIVATE KEY-----"),
            format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"),
        ] {
            let (label, decoded) = pem_to_der(&text).unwrap();
            assert_eq!(label, "PRIVATE KEY");
            assert_eq!(decoded.as_slice(), der);
        }
        assert_eq!(pem_to_der(&body).unwrap().0, "");
        assert!(pem_to_der("-----BEGIN PRIVATE KEY----- x").is_err());
        assert!(pem_to_der("-----BEGIN A-----%%-----END A-----").is_err());
        assert!(pem_to_der("-----BEGIN A----------END A-----").is_err());
    }

    #[test]
    fn provider_reasons_are_short_printable_and_never_quote_a_secret() {
        let body = br#"{"error":"invalid_grant","error_description":"bad\nkey"}"#;
        assert_eq!(provider_reason(body, &[]), "invalid_grant: bad key");
        let echo = br#"{"detail":"password hunter22 is wrong"}"#;
        assert_eq!(provider_reason(echo, &["hunter22"]), "");
        assert_eq!(
            provider_reason(b"oauth_problem=signature_invalid&x=1", &[]),
            "signature_invalid"
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(500));
        assert_eq!(provider_reason(long.as_bytes(), &[]).chars().count(), 201);
    }

    #[test]
    fn oauth1_injections_claim_the_authorization_header() {
        let consumer = oauth1::Consumer::new(
            "ck",
            Some("cs"),
            crate::providers::SignatureMethod::HmacSha1,
            None,
        )
        .unwrap();
        let injection = Injection {
            oauth1: Some(oauth1::Signer::new(
                consumer,
                Some(("t", "ts")),
                crate::clock::Clock::system(),
            )),
            ..Injection::default()
        };
        assert_eq!(injection.header_names(), ["authorization"]);
        let mut url = url::Url::parse("https://api.example/x?a=1").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer client".parse().unwrap(),
        );
        injection
            .apply(&http::Method::GET, &mut url, &mut headers, None)
            .unwrap();
        let value = headers.get(http::header::AUTHORIZATION).unwrap();
        assert!(value.is_sensitive());
        assert!(
            value
                .to_str()
                .unwrap()
                .starts_with("OAuth oauth_consumer_key=\"ck\"")
        );
        let shown = format!("{injection:?}");
        assert!(!shown.contains("cs") && !shown.contains("ts\""), "{shown}");
    }
}
