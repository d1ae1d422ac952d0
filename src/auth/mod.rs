//! Authentication schemes, one module each: what an integration configures, what a
//! connection keeps (typed, secrets as `crate::secret` types), how a request carries it,
//! how it is renewed and how it is checked.
//!
//! - [`static_key`]: API_KEY, BEARER_TOKEN, BASIC and NO_AUTH — the credential goes on the
//!   request as it was given.
//! - [`oauth1`]: OAuth 1.0a — each request is signed; the browser flow's protocol steps.
//! - [`oauth2`]: OAuth 2.0 — authorization code with PKCE, refresh, client credentials,
//!   revocation, over the `oauth2` crate.
//! - [`jwt`]: BASIC_WITH_JWT — a login exchanges username and password for a JWT.
//! - [`google`]: GOOGLE_SERVICE_ACCOUNT — a signed assertion (RFC 7523) for an access token.
//!
//! [`Credentials::open`] is the one place a scheme is chosen: it turns a connection's stored
//! values (plain JSON and opened sealed fields, for the integration and the connection) into
//! one typed enum arm, and every later question goes through the [`Scheme`] trait. The
//! token-issuing schemes (OAuth 2.0, BASIC_WITH_JWT, service accounts) also implement
//! [`Issuer`]: they say what token they hold and how to get a new one, and the service's one
//! token lifecycle (`service/tokens.rs`) decides when. Adding a scheme is one module and one
//! arm in [`Credentials`]. Nothing here stores anything or reads the clock: the `Net` client
//! and `now` are arguments.

mod endpoint;
pub mod google;
mod inject;
pub mod jwt;
pub mod oauth1;
pub mod oauth2;
pub mod static_key;

use serde_json::{Map, Value};

pub use endpoint::MAX_TOKEN_RESPONSE;
pub use inject::Injection;

use crate::clock::Clock;
use crate::domain::AuthScheme;
use crate::net::Net;
use crate::providers::catalog::SchemeDetails;
use crate::secret::{AccessToken, REDACTED, RefreshToken, Secret, SecretFields, SecretJson};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("the connection lacks {0}; reconnect it")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
    /// A configuration or credential field is missing or unusable; `field` names it
    /// (`private_key`, `credentials_json.client_email`, …). Never carries the value.
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    /// The integration cannot be used with this scheme as configured.
    #[error("{0}")]
    Config(String),
    /// The provider refused the credentials (HTTP 400 or 401 from a token endpoint): the
    /// connection needs new credentials, retrying will not help.
    #[error("the provider refused the credentials (HTTP {status}{})", endpoint::reason_suffix(.reason))]
    Rejected { status: u16, reason: String },
    /// The provider could not be reached or answered something unusable; worth retrying.
    #[error("{0}")]
    Upstream(String),
    #[error("the provider did not answer in time")]
    Timeout,
    /// The OAuth 2.0 authorization server refused or failed (`auth::oauth2`'s own error).
    #[error(transparent)]
    OAuth(#[from] oauth2::OAuthError),
}

impl AuthError {
    /// Stable machine-readable code. A field is bad input; a provider that failed or timed
    /// out is upstream; a credential that is missing, unusable or refused conflicts with
    /// what the request needs (reconnect it).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Field { .. } | AuthError::Config(_) => "invalid_input",
            AuthError::Upstream(_) => "upstream_failed",
            AuthError::Timeout => "upstream_timeout",
            AuthError::OAuth(e) => e.code(),
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

/// An access token a login or assertion endpoint issued, with its expiry (Unix seconds)
/// when known.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub expires_at: Option<i64>,
}

impl IssuedToken {
    /// As a connection keeps it: no refresh token, no issue time.
    pub(crate) fn renewed(self) -> Renewed {
        Renewed {
            access_token: self.access_token,
            refresh_token: None,
            expires_at: self.expires_at,
            issued_at: None,
            refresh_expires_at: None,
            scope: None,
            token_type: None,
            vars: Vec::new(),
        }
    }
}

/// One stored row's values as a scheme reads them: its plain JSON beside its opened sealed
/// fields. Each scheme names its wire keys in its own `open`.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    plain: &'a Map<String, Value>,
    sealed: &'a SecretFields,
}

impl<'a> Fields<'a> {
    pub fn new(plain: &'a Map<String, Value>, sealed: &'a SecretFields) -> Self {
        Fields { plain, sealed }
    }

    pub fn plain(&self) -> &'a Map<String, Value> {
        self.plain
    }

    /// A plain text value (a setting, a username, a template variable).
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.plain.get(key).and_then(Value::as_str)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.plain.get(key).and_then(Value::as_i64)
    }

    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.plain.get(key)
    }

    /// A secret text value: sealed, or plain where the catalog keeps the field plain.
    pub fn secret<T: for<'s> From<&'s str>>(&self, key: &str) -> Option<T> {
        match self.sealed.text(key) {
            Some(secret) => Some(T::from(secret.expose_secret())),
            None => self.text(key).map(T::from),
        }
    }

    /// A secret JSON value (an object, or the JSON text of one).
    pub fn secret_json(&self, key: &str) -> Option<SecretJson> {
        match self.sealed.expose_value(key) {
            Some(value) => Some(SecretJson::new(&value)),
            None => self.value(key).map(SecretJson::new),
        }
    }

    /// The plain string values: what `{variable}` templates are filled from.
    pub fn variables(&self) -> Map<String, Value> {
        self.plain
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Everything a scheme reads to open one connection.
#[derive(Clone, Copy)]
pub struct Stored<'a> {
    pub scheme: AuthScheme,
    /// The catalog's details for this scheme, where the app still offers it.
    pub spec: Option<&'a SchemeDetails>,
    pub app_key: &'a str,
    /// The integration's settings and its opened sealed values.
    pub integration: Fields<'a>,
    pub scopes: &'a [String],
    /// The connection's parameters and its opened sealed values.
    pub connection: Fields<'a>,
    /// Where the provider sends the browser back (OAuth 2.0 `redirect_uri`).
    pub callback_url: &'a str,
}

/// A connection's material opened and typed by its scheme.
#[derive(Debug)]
pub enum Credentials {
    OAuth2(oauth2::OAuth2),
    OAuth1(oauth1::OAuth1),
    ApiKey(static_key::ApiKey),
    BearerToken(static_key::Bearer),
    Basic(static_key::Basic),
    BasicWithJwt(jwt::Login),
    GoogleServiceAccount(google::ServiceAccount),
    NoAuth(static_key::NoAuth),
}

impl Credentials {
    pub fn open(stored: &Stored<'_>) -> Credentials {
        let (config, conn) = (&stored.integration, &stored.connection);
        match stored.scheme {
            AuthScheme::OAuth2 => Credentials::OAuth2(oauth2::OAuth2::open(stored)),
            AuthScheme::OAuth1 => Credentials::OAuth1(oauth1::OAuth1::open(config, conn)),
            AuthScheme::ApiKey => {
                Credentials::ApiKey(static_key::ApiKey::open(stored.spec, config, conn))
            }
            AuthScheme::BearerToken => Credentials::BearerToken(static_key::Bearer::open(conn)),
            AuthScheme::Basic => Credentials::Basic(static_key::Basic::open(conn)),
            AuthScheme::BasicWithJwt => {
                Credentials::BasicWithJwt(jwt::Login::open(stored.spec, config, conn))
            }
            AuthScheme::GoogleServiceAccount => Credentials::GoogleServiceAccount(
                google::ServiceAccount::open(stored.spec, config, stored.scopes, conn),
            ),
            AuthScheme::NoAuth => Credentials::NoAuth(static_key::NoAuth),
        }
    }

    fn scheme(&self) -> &dyn Scheme {
        match self {
            Credentials::OAuth2(s) => s,
            Credentials::OAuth1(s) => s,
            Credentials::ApiKey(s) => s,
            Credentials::BearerToken(s) => s,
            Credentials::Basic(s) => s,
            Credentials::BasicWithJwt(s) => s,
            Credentials::GoogleServiceAccount(s) => s,
            Credentials::NoAuth(s) => s,
        }
    }

    /// What one request carries. For token-issuing schemes this is the token the connection
    /// holds now; the token lifecycle renews it first.
    pub fn injection(&self, clock: &Clock) -> Result<Injection, AuthError> {
        self.scheme().injection(clock)
    }

    /// How a token-issuing scheme's token is held and renewed; `None` for the others.
    pub fn issuer(&self) -> Option<&dyn Issuer> {
        self.scheme().issuer()
    }
}

/// What every scheme answers for an opened connection.
pub trait Scheme {
    fn injection(&self, clock: &Clock) -> Result<Injection, AuthError>;

    fn issuer(&self) -> Option<&dyn Issuer> {
        None
    }
}

/// Token-issuing schemes put the token they hold on the request (the token lifecycle
/// renews it first) and answer as issuers.
impl<T: Issuer> Scheme for T {
    fn injection(&self, _: &Clock) -> Result<Injection, AuthError> {
        self.cached().bearer()
    }

    fn issuer(&self) -> Option<&dyn Issuer> {
        Some(self)
    }
}

/// A scheme whose access tokens a token endpoint issues and that expire.
pub trait Issuer {
    /// The token the connection holds now.
    fn cached(&self) -> &Cached;

    /// Asks the token endpoint for a new token (refresh, client credentials, login,
    /// assertion). `now` is Unix seconds.
    fn renew(&self, net: &Net, now: i64) -> Result<Renewed, RenewError>;

    /// Revokes the connection's tokens at the provider (RFC 7009) when it is deleted;
    /// `None` when the scheme or the integration has nothing to revoke.
    fn revoke(&self, _net: &Net) -> Option<Result<(), AuthError>> {
        None
    }
}

/// The token a connection holds, with its expiry and issue time (Unix seconds) as stored in
/// its plain `expires_at` and `issued_at`.
#[derive(Debug, Default)]
pub struct Cached {
    pub access_token: Option<AccessToken>,
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
}

impl Cached {
    pub(crate) fn open(conn: &Fields<'_>) -> Cached {
        Cached {
            access_token: conn.secret("access_token"),
            expires_at: conn.int("expires_at"),
            issued_at: conn.int("issued_at"),
        }
    }

    /// The held token as a bearer token: all a token-issuing scheme puts on a request.
    pub(crate) fn bearer(&self) -> Result<Injection, AuthError> {
        let token = self
            .access_token
            .as_ref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Missing("access_token".into()))?;
        Ok(Injection::bearer(token.expose_secret()))
    }
}

/// The plain connection parameter holding when the refresh token lapses (Unix seconds),
/// where the provider said.
pub const REFRESH_EXPIRES_AT: &str = "refresh_token_expires_at";

/// A new token from a token endpoint, ready to be committed.
#[derive(Debug)]
pub struct Renewed {
    pub access_token: AccessToken,
    /// A rotated refresh token; `None` keeps the one the connection has.
    pub refresh_token: Option<RefreshToken>,
    pub expires_at: Option<i64>,
    /// When the token endpoint issued it (OAuth 2.0 always; the others with `expires_at`
    /// when the lifetime is known from the answer): the refresh token's age counts from it.
    pub issued_at: Option<i64>,
    /// When the refresh token lapses, where the provider said (`refresh_token_expires_in`).
    pub refresh_expires_at: Option<i64>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
    /// Connection variables the token endpoint said (Salesforce's API host), each
    /// already a valid template value.
    pub vars: Vec<(String, String)>,
}

impl Renewed {
    /// Writes the new token into a connection's parameters and sealed fields under the wire
    /// keys every version of keyport used: sealed `access_token` and `refresh_token`, plain
    /// `expires_at`, `issued_at`, `scope` and `token_type`; and plain
    /// `refresh_token_expires_at`, which a new refresh token of unknown lifetime clears and a
    /// kept one keeps.
    pub fn store(&self, params: &mut Map<String, Value>, sealed: &mut SecretFields) {
        match (self.refresh_expires_at, &self.refresh_token) {
            (Some(at), _) => {
                params.insert(REFRESH_EXPIRES_AT.into(), Value::from(at));
            }
            (None, Some(_)) => {
                params.remove(REFRESH_EXPIRES_AT);
            }
            (None, None) => {}
        }
        for key in ["expires_at", "issued_at", "scope", "token_type"] {
            params.remove(key);
        }
        let plain = [
            ("expires_at", self.expires_at.map(Value::from)),
            ("issued_at", self.issued_at.map(Value::from)),
            ("scope", self.scope.clone().map(Value::String)),
            ("token_type", self.token_type.clone().map(Value::String)),
        ];
        for (key, value) in plain {
            if let Some(value) = value {
                params.insert(key.into(), value);
            }
        }
        for (name, value) in &self.vars {
            params.insert(name.clone(), Value::String(value.clone()));
        }
        sealed.set("access_token", self.access_token.expose_secret());
        if let Some(refresh) = &self.refresh_token {
            sealed.set("refresh_token", refresh.expose_secret());
        }
    }
}

/// Why no new token came back.
#[derive(Debug)]
pub enum RenewError {
    /// The grant is dead (`invalid_grant`, a login refused with 400/401): the connection
    /// must be reconnected. The text is the reason shown on it.
    Dead(String),
    /// There is nothing to renew with (no refresh token): the held token serves until it
    /// expires, then the connection must be reconnected.
    Exhausted(String),
    /// The provider refused for another reason (`invalid_client`…).
    Refused(AuthError),
    /// The provider could not be reached or answered something unusable.
    Transient(AuthError),
    /// The configuration or the stored credential is unusable; nothing was sent.
    Unusable(AuthError),
}

/// How each scheme starts a connection and how it can be checked: the one table the
/// service consults before a connection exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traits {
    /// The connection completes in the user's browser (OAuth 2.0, OAuth 1.0a).
    pub browser: bool,
    /// A token endpoint issues its expiring access tokens.
    pub issues_tokens: bool,
    /// A who-am-I call can check the credential (static credentials only).
    pub checkable: bool,
}

pub fn traits(scheme: AuthScheme) -> Traits {
    let (browser, issues_tokens, checkable) = match scheme {
        AuthScheme::OAuth2 => (true, true, false),
        AuthScheme::OAuth1 => (true, false, false),
        AuthScheme::ApiKey | AuthScheme::BearerToken | AuthScheme::Basic => (false, false, true),
        AuthScheme::BasicWithJwt | AuthScheme::GoogleServiceAccount => (false, true, false),
        AuthScheme::NoAuth => (false, false, false),
    };
    Traits {
        browser,
        issues_tokens,
        checkable,
    }
}

/// Checks an integration's configuration (plain and secret values as given) before it is
/// stored, for schemes that can tell a bad one without a network call. `Err` names the field.
pub fn check_config(scheme: AuthScheme, config: &Map<String, Value>) -> Result<(), AuthError> {
    match scheme {
        AuthScheme::OAuth1 => oauth1::check_config(config),
        _ => Ok(()),
    }
}

/// Checks a connection's secret input before it is stored. `Err` names the field.
pub fn check_connection(scheme: AuthScheme, secret: &Map<String, Value>) -> Result<(), AuthError> {
    match (scheme, secret.get("credentials_json")) {
        (AuthScheme::GoogleServiceAccount, Some(key)) => {
            google::check_key(key).map_err(|reason| AuthError::field("credentials_json", reason))
        }
        _ => Ok(()),
    }
}

/// The injection a reader may see: its header and parameter names, every value
/// `********`. `stored` holds the connection's parameters as readers see them (secrets
/// already replaced) and no sealed values.
pub fn redacted_injection(stored: &Stored<'_>) -> Injection {
    let traits = traits(stored.scheme);
    if traits.browser || traits.issues_tokens {
        return Injection::bearer(REDACTED);
    }
    Credentials::open(stored)
        .injection(&Clock::system())
        .unwrap_or_default()
}

/// A `scopes` setting as a list: space- or comma-separated text, or a list of strings;
/// `None` when the setting is absent or of another kind.
pub fn scope_list(setting: Option<&Value>) -> Option<Vec<String>> {
    match setting? {
        Value::String(s) => Some(
            s.split([' ', ','])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

/// A plain secret read with the key it came from, for schemes whose errors name it.
pub(crate) fn required<'a>(value: &'a Option<Secret>, name: &str) -> Result<&'a str, AuthError> {
    value
        .as_ref()
        .map(Secret::expose_secret)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AuthError::Missing(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `traits(..).issues_tokens` decides without opening anything (a credential read skips
    /// the token lifecycle on it): it must say what the opened credentials say.
    #[test]
    fn the_schemes_that_issue_tokens_are_the_issuers() {
        let (plain, sealed) = (Map::new(), SecretFields::default());
        for scheme in AuthScheme::ALL {
            let opened = Credentials::open(&Stored {
                scheme,
                spec: None,
                app_key: "app",
                integration: Fields::new(&plain, &sealed),
                scopes: &[],
                connection: Fields::new(&plain, &sealed),
                callback_url: "http://127.0.0.1:7790/callback/app",
            });
            assert_eq!(
                traits(scheme).issues_tokens,
                opened.issuer().is_some(),
                "{scheme}"
            );
        }
    }
}
