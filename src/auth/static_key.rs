//! The schemes whose credential goes on every request as it was given: API_KEY (a key in
//! a header or the query string, plus whatever extra values the provider wants beside it),
//! BEARER_TOKEN, BASIC (RFC 7617) and NO_AUTH. Nothing expires and nothing is renewed; a
//! who-am-I call can check them (`service/checks.rs`).
//!
//! Wire keys: the connection's `api_key`, `token`, `username` and `password`, the API-key
//! extras under the names the catalog gives them, and the integration's `in`, `name` and
//! `prefix` (overriding the catalog's placement).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use super::{AuthError, Fields, Injection, Scheme, required};
use crate::clock::Clock;
use crate::providers::catalog::{KeyLocation, SchemeDetails};
use crate::secret::Secret;

/// An API key and where it goes.
#[derive(Debug)]
pub struct ApiKey {
    /// The integration's `in` setting, or the catalog's placement.
    location: String,
    name: String,
    prefix: String,
    key: Option<Secret>,
    extras: Vec<Extra>,
}

/// A value the provider wants beside the key (Trello's `token`, Datadog's application key).
#[derive(Debug)]
struct Extra {
    location: KeyLocation,
    name: String,
    prefix: String,
    value: Option<Secret>,
}

impl ApiKey {
    pub(super) fn open(
        spec: Option<&SchemeDetails>,
        config: &Fields<'_>,
        conn: &Fields<'_>,
    ) -> Self {
        let (location, name, prefix, extras) = match spec {
            Some(SchemeDetails::ApiKey(k)) => (
                k.location.as_str(),
                k.name.as_str(),
                k.prefix.as_str(),
                k.extra.as_slice(),
            ),
            _ => ("header", "Authorization", "Bearer ", &[][..]),
        };
        let setting = |key: &str, default: &str| config.text(key).unwrap_or(default).to_string();
        ApiKey {
            location: setting("in", location),
            name: setting("name", name),
            prefix: setting("prefix", prefix),
            key: conn.secret("api_key"),
            extras: extras
                .iter()
                .map(|extra| Extra {
                    location: extra.location,
                    name: extra.name.clone(),
                    prefix: extra.prefix.clone(),
                    value: conn.secret(&extra.field),
                })
                .collect(),
        }
    }
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

impl Scheme for ApiKey {
    fn injection(&self, _: &Clock) -> Result<Injection, AuthError> {
        let mut injection = Injection::default();
        let key = required(&self.key, "api_key")?;
        injection.add(
            location(&self.location)?,
            &self.name,
            format!("{}{key}", self.prefix),
        );
        for extra in &self.extras {
            if let Some(value) = extra.value.as_ref().filter(|v| !v.is_empty()) {
                injection.add(
                    extra.location,
                    &extra.name,
                    format!("{}{}", extra.prefix, value.expose_secret()),
                );
            }
        }
        Ok(injection)
    }
}

/// A token sent as `Authorization: Bearer …`.
#[derive(Debug)]
pub struct Bearer {
    token: Option<Secret>,
}

impl Bearer {
    pub(super) fn open(conn: &Fields<'_>) -> Self {
        Bearer {
            token: conn.secret("token"),
        }
    }
}

impl Scheme for Bearer {
    fn injection(&self, _: &Clock) -> Result<Injection, AuthError> {
        Ok(Injection::bearer(required(&self.token, "token")?))
    }
}

/// HTTP Basic: a username and a password, either of which may be empty, not both.
#[derive(Debug)]
pub struct Basic {
    username: Option<Secret>,
    password: Option<Secret>,
}

impl Basic {
    pub(super) fn open(conn: &Fields<'_>) -> Self {
        Basic {
            username: conn.secret("username"),
            password: conn.secret("password"),
        }
    }
}

impl Scheme for Basic {
    fn injection(&self, _: &Clock) -> Result<Injection, AuthError> {
        fn half(v: &Option<Secret>) -> &str {
            v.as_ref().map(Secret::expose_secret).unwrap_or("")
        }
        let (username, password) = (half(&self.username), half(&self.password));
        if username.is_empty() && password.is_empty() {
            return Err(AuthError::Missing("username and password".into()));
        }
        let encoded = zeroize::Zeroizing::new(STANDARD.encode(format!("{username}:{password}")));
        let mut injection = Injection::default();
        injection.headers.push((
            "Authorization".into(),
            SecretString::from(format!("Basic {}", encoded.as_str())),
        ));
        Ok(injection)
    }
}

/// NO_AUTH: nothing is added.
#[derive(Debug)]
pub struct NoAuth;

impl Scheme for NoAuth {
    fn injection(&self, _: &Clock) -> Result<Injection, AuthError> {
        Ok(Injection::default())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::secret::SecretFields;

    fn fields(plain: &Value) -> (Map<String, Value>, SecretFields) {
        (plain.as_object().unwrap().clone(), SecretFields::default())
    }

    #[test]
    fn api_keys_go_where_the_integration_says() {
        let (config, none) = fields(&json!({"in": "query", "name": "key", "prefix": ""}));
        let sealed: SecretFields = serde_json::from_value(json!({"api_key": "k1"})).unwrap();
        let plain = Map::new();
        let key = ApiKey::open(
            None,
            &Fields::new(&config, &none),
            &Fields::new(&plain, &sealed),
        );
        let injection = key.injection(&Clock::system()).unwrap();
        assert!(injection.headers.is_empty());
        assert_eq!(injection.query[0].0, "key");
        assert_eq!(injection.query[0].1.expose_secret(), "k1");

        let (config, _) = fields(&json!({"in": "cookie"}));
        let key = ApiKey::open(
            None,
            &Fields::new(&config, &none),
            &Fields::new(&plain, &sealed),
        );
        assert!(matches!(
            key.injection(&Clock::system()),
            Err(AuthError::Invalid(_))
        ));
        let missing = ApiKey::open(
            None,
            &Fields::new(&Map::new(), &none),
            &Fields::new(&plain, &none),
        );
        assert!(matches!(
            missing.injection(&Clock::system()),
            Err(AuthError::Missing(m)) if m == "api_key"
        ));
    }

    #[test]
    fn basic_needs_one_half_at_least() {
        let none = SecretFields::default();
        let plain = json!({"username": "u"}).as_object().unwrap().clone();
        let basic = Basic::open(&Fields::new(&plain, &none));
        let injection = basic.injection(&Clock::system()).unwrap();
        assert_eq!(
            injection.headers[0].1.expose_secret(),
            format!("Basic {}", STANDARD.encode("u:"))
        );
        let empty = Basic::open(&Fields::new(&Map::new(), &none));
        assert!(empty.injection(&Clock::system()).is_err());
    }
}
