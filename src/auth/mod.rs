//! How a request is authenticated for a connection: the one place that turns a scheme's
//! stored material into what goes on the wire. `Credentials` is the opened material (never
//! logged: hand-written `Debug`); `Injection` is what to add to one outgoing request.
//! Token-issuing schemes (OAuth 2.0, BASIC_WITH_JWT, GOOGLE_SERVICE_ACCOUNT) obtain their
//! access token elsewhere and are injected here as a bearer token.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::domain::AuthScheme;
use crate::providers::App;
use crate::providers::catalog::{KeyLocation, SchemeDetails};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the connection lacks {0}; reconnect it")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
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
            query: Vec::new(),
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
        self.headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect()
    }

    /// Adds the injection to a request: headers replace same-named ones, query parameters
    /// replace same-named ones. `method` and `form_body` (an
    /// `application/x-www-form-urlencoded` body, if that is what is sent) are what a
    /// per-request signature covers.
    pub fn apply(
        &self,
        method: &http::Method,
        url: &mut url::Url,
        headers: &mut http::HeaderMap,
        form_body: Option<&[u8]>,
    ) -> Result<(), AuthError> {
        let _ = (method, form_body); // covered only by signing schemes
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
                "{other} credentials are issued by a token endpoint, not injected statically"
            )));
        }
    }
    Ok(injection)
}
