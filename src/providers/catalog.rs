//! The typed shape of one provider ("app") as catalog JSON spells it.
//!
//! Every struct refuses unknown keys (`deny_unknown_fields`) so a typo in a user file is an
//! error rather than a silently ignored setting. Auth modes are the domain's closed
//! [`AuthScheme`] set; the per-mode details are one enum tagged by `"mode"`, so an OAuth 2.0
//! scheme can't lack a token URL and an API-key scheme can't lack its placement. The checks
//! that serde can't express (https, declared variables, unique modes) live in `parse`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::auth_scheme::AuthScheme;

/// A URL that may contain `{variable}` placeholders, rendered per connection.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct UrlTemplate(pub(super) String);

impl UrlTemplate {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One provider of the catalog.
#[derive(Clone, Debug)]
pub struct App {
    /// Lower-case `[a-z0-9_]+`, as Composio spells it (`googlecalendar`).
    pub key: String,
    pub name: String,
    pub description: String,
    pub categories: Vec<String>,
    /// The provider's API documentation (required of built-in entries).
    pub docs: Option<String>,
    /// Where a developer registers an OAuth app with the provider (required of built-in
    /// entries with an OAuth scheme).
    pub register_url: Option<String>,
    /// Quirks a developer setting the app up should know, in a sentence or two.
    pub notes: Option<String>,
    /// Registrable domains besides the docs' that the entry's URLs may use (checked for
    /// built-in entries: `googleapis.com` next to `google.com`).
    pub domains: Vec<String>,
    /// The API's root; `None` for apps whose every integration names its own (remote MCP
    /// servers), which then must.
    pub base_url: Option<String>,
    pub whoami: Option<Endpoint>,
    /// Default headers for API calls (never `Authorization`: that comes from the scheme).
    /// Values may name the integration's `{client_id}` and the app's `{variables}` (Twitch:
    /// `Client-Id: {client_id}`), never a secret.
    pub headers: BTreeMap<String, String>,
    /// Hosts besides the base URL's that the proxy may reach for this app, with the base
    /// URL's scheme and path (Dropbox: `content.dropboxapi.com`); a closed list.
    pub extra_hosts: Vec<String>,
    pub variables: Vec<Variable>,
    /// The first one is the app's default scheme; modes are unique.
    pub schemes: Vec<SchemeSpec>,
}

/// A request that identifies the connected account, used to test a fresh connection.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub method: HttpMethod,
    /// A path appended to the base URL, or an absolute https URL.
    pub path: String,
    /// A JSON body (for GraphQL APIs), sent with POST.
    #[serde(default)]
    pub body: Option<Value>,
}

impl Endpoint {
    /// The full URL given the (rendered) base URL.
    pub fn url(&self, base_url: &str) -> String {
        if self.path.starts_with('/') {
            format!("{}{}", base_url.trim_end_matches('/'), self.path)
        } else {
            self.path.clone()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum HttpMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

/// A per-connection value substituted for `{name}` in the app's URLs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    pub display_name: String,
    pub description: String,
    #[serde(default)]
    pub default: Option<String>,
    /// A sample value the catalog lint renders URLs with when there is no default (a
    /// variable that names a whole host: `acme.my.salesforce.com`).
    #[serde(default)]
    pub example: Option<String>,
}

/// One auth scheme an app supports: the mode and its typed details.
#[derive(Clone, Debug)]
pub struct SchemeSpec {
    /// Always equal to `details.mode()`.
    pub mode: AuthScheme,
    pub details: SchemeDetails,
    /// The scheme's base URL (its own `base_url`, else the app's), the default of the
    /// `base_url` integration field.
    pub(super) app_base_url: Option<String>,
    /// Requests made once a connection of this scheme is ACTIVE, each filling variables.
    pub lookups: Vec<Lookup>,
}

impl SchemeSpec {
    /// The scheme's API base URL template (its own, else the app's).
    pub fn base_url(&self) -> Option<&str> {
        self.app_base_url.as_deref()
    }

    /// The app's who-am-I URL for this scheme (its base URL and the entry's path), as a
    /// template; `None` when the app has none.
    pub fn whoami_url(&self, app: &App) -> Option<String> {
        let whoami = app.whoami.as_ref()?;
        match self.base_url() {
            Some(base) => Some(whoami.url(base)),
            None if !whoami.path.starts_with('/') => Some(whoami.path.clone()),
            None => None,
        }
    }

    /// The variables this scheme fills itself (from the token response or a lookup):
    /// never asked of the customer.
    pub fn filled_variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .lookups
            .iter()
            .flat_map(|l| l.vars.keys().map(String::as_str))
            .collect();
        if let SchemeDetails::OAuth2(o) = &self.details {
            names.extend(o.token_response_vars.keys().map(String::as_str));
        }
        names
    }
}

/// A GET sent with the connection's credential once it is ACTIVE, whose JSON answer fills
/// connection variables (Atlassian: accessible-resources → `[0].id` → `cloudid`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    pub url: UrlTemplate,
    /// Variable name → where its value is in the answer.
    pub vars: BTreeMap<String, ValueSource>,
}

/// Where a value is in a JSON document: a path (`team.id`, `[0].id`), optionally reduced
/// to the host of the URL found there (Salesforce's `instance_url`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ValueSource {
    Path(String),
    Part { path: String, part: ValuePart },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuePart {
    /// The value as it is.
    Value,
    /// The host (and port, if any) of the https URL found there.
    Host,
}

impl ValueSource {
    pub fn path(&self) -> &str {
        match self {
            ValueSource::Path(p) | ValueSource::Part { path: p, .. } => p,
        }
    }

    /// The value at this source in `doc`, as a variable value: a string or a number, the
    /// host of an https URL for `part: host`. `None` when absent or of another kind.
    pub fn extract(&self, doc: &Value) -> Option<String> {
        let found = json_path(doc, self.path())?;
        let text = match found {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        match self {
            ValueSource::Part {
                part: ValuePart::Host,
                ..
            } => {
                let url = url::Url::parse(&text).ok()?;
                if url.scheme() != "https" {
                    return None;
                }
                let host = url.host_str()?;
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                })
            }
            _ => Some(text),
        }
    }
}

/// One step of a [`json_path`].
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The steps of a path such as `team.id`, `[0].id` or `authed_user.access_token`; `None`
/// when it is malformed.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        } else if rest.is_empty() {
            return None;
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            out.push(Step::Index(inner[..close].parse().ok()?));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether `path` is a well-formed [`json_path`].
pub fn valid_path(path: &str) -> bool {
    steps(path).is_some()
}

/// The value at `path` (`a.b`, `[0].id`) in `doc`.
pub fn json_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    steps(path)?
        .into_iter()
        .try_fold(doc, |at, step| match step {
            Step::Key(k) => at.get(k),
            Step::Index(i) => at.get(i),
        })
}

/// Per-mode details, tagged in JSON by `"mode"` with the wire spelling of [`AuthScheme`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "mode", deny_unknown_fields)]
pub enum SchemeDetails {
    #[serde(rename = "OAUTH2")]
    OAuth2(OAuth2Spec),
    #[serde(rename = "OAUTH1")]
    OAuth1(OAuth1Spec),
    #[serde(rename = "API_KEY")]
    ApiKey(ApiKeySpec),
    #[serde(rename = "BASIC")]
    Basic(BasicSpec),
    #[serde(rename = "BASIC_WITH_JWT")]
    BasicWithJwt(JwtSpec),
    #[serde(rename = "GOOGLE_SERVICE_ACCOUNT")]
    GoogleServiceAccount(GsaSpec),
    #[serde(rename = "BEARER_TOKEN")]
    BearerToken {},
    #[serde(rename = "NO_AUTH")]
    NoAuth {},
}

impl SchemeDetails {
    pub fn mode(&self) -> AuthScheme {
        match self {
            SchemeDetails::OAuth2(_) => AuthScheme::OAuth2,
            SchemeDetails::OAuth1(_) => AuthScheme::OAuth1,
            SchemeDetails::ApiKey(_) => AuthScheme::ApiKey,
            SchemeDetails::Basic(_) => AuthScheme::Basic,
            SchemeDetails::BasicWithJwt(_) => AuthScheme::BasicWithJwt,
            SchemeDetails::GoogleServiceAccount(_) => AuthScheme::GoogleServiceAccount,
            SchemeDetails::BearerToken {} => AuthScheme::BearerToken,
            SchemeDetails::NoAuth {} => AuthScheme::NoAuth,
        }
    }
}

/// OAuth 2.0 authorization-code flow (RFC 6749), optionally with PKCE (RFC 7636).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Spec {
    /// `None` where each integration brings its own (discovered, as for remote MCP
    /// servers): the integration must then give it.
    #[serde(default)]
    pub authorization_url: Option<UrlTemplate>,
    #[serde(default)]
    pub token_url: Option<UrlTemplate>,
    /// An RFC 7009 revocation endpoint, where the provider has one.
    #[serde(default)]
    pub revocation_url: Option<UrlTemplate>,
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// `" "` (RFC 6749) or `","` (Slack, Strava, …).
    #[serde(default = "space")]
    pub scope_separator: String,
    #[serde(default)]
    pub pkce: bool,
    #[serde(default)]
    pub token_auth: TokenAuth,
    /// Extra query parameters of the authorization request (`access_type=offline`, …).
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
    /// Extra form parameters of token requests.
    #[serde(default)]
    pub token_params: BTreeMap<String, String>,
    /// The provider also grants tokens to the client itself (`client_credentials`).
    #[serde(default)]
    pub client_credentials: bool,
    /// How long the provider's refresh tokens live unused, in seconds, where its docs say
    /// (Google: six months, Microsoft and Atlassian: 90 days). Keep-alive refreshes ahead of
    /// it when the token response does not say (`refresh_token_expires_in`).
    #[serde(default)]
    pub refresh_token_idle_secs: Option<std::num::NonZeroU64>,
    /// How token requests are encoded: a form (RFC 6749), or JSON (Notion).
    #[serde(default)]
    pub token_request: TokenRequest,
    /// Connection variables taken from the token response (Salesforce's `instance_url`,
    /// Slack's `team.id`): variable name → where its value is.
    #[serde(default)]
    pub token_response_vars: BTreeMap<String, ValueSource>,
    /// The provider grants user tokens for separately requested user scopes (Slack).
    #[serde(default)]
    pub user_scopes: Option<UserScopes>,
    /// The scopes of a client-credentials grant when the integration names none of its
    /// own (Microsoft: `https://graph.microsoft.com/.default`).
    #[serde(default)]
    pub client_credentials_scopes: Vec<String>,
    /// Variable values a client-credentials grant refuses, with why (Microsoft: `tenant`
    /// `common`, `organizations` and `consumers`: a machine token needs a named tenant).
    #[serde(default)]
    pub client_credentials_refuses: BTreeMap<String, Vec<String>>,
}

/// How a token request's parameters are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRequest {
    /// `application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
    #[default]
    Form,
    /// The same parameters as a JSON object (Notion).
    Json,
}

/// Slack-style user scopes: an integration's `user_scopes` go in the authorization
/// request's `param`, and the user's tokens come back in the object at `tokens_at`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserScopes {
    pub param: String,
    pub tokens_at: String,
}

fn space() -> String {
    " ".to_string()
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// HTTP Basic with client id and secret, the one RFC 6749 requires servers to support.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` only, no secret (PKCE carries the proof).
    None,
}

impl TokenAuth {
    pub const ALL: [TokenAuth; 3] = [
        TokenAuth::ClientSecretPost,
        TokenAuth::ClientSecretBasic,
        TokenAuth::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::ClientSecretBasic => "client_secret_basic",
            TokenAuth::ClientSecretPost => "client_secret_post",
            TokenAuth::None => "none",
        }
    }
}

/// OAuth 1.0a three-legged flow (RFC 5849).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth1Spec {
    pub request_token_url: UrlTemplate,
    pub authorization_url: UrlTemplate,
    pub access_token_url: UrlTemplate,
    #[serde(default)]
    pub signature_method: SignatureMethod,
    /// Extra query parameters of the authorization redirect (Trello: `scope`, `expiration`).
    #[serde(default)]
    pub authorization_params: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SignatureMethod {
    #[default]
    #[serde(rename = "HMAC-SHA1")]
    HmacSha1,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
    #[serde(rename = "PLAINTEXT")]
    Plaintext,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 5849 §3.4.3), keyed by the integration's
    /// `private_key`; the consumer secret is not used.
    #[serde(rename = "RSA-SHA1")]
    RsaSha1,
}

impl SignatureMethod {
    pub const ALL: [SignatureMethod; 4] = [
        SignatureMethod::HmacSha1,
        SignatureMethod::HmacSha256,
        SignatureMethod::Plaintext,
        SignatureMethod::RsaSha1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
            SignatureMethod::Plaintext => "PLAINTEXT",
            SignatureMethod::RsaSha1 => "RSA-SHA1",
        }
    }

    /// The method spelled as on the wire (`"HMAC-SHA1"`, …), if it is one.
    pub fn parse(raw: &str) -> Option<SignatureMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

/// A static key sent with every request, in a header or the query string.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySpec {
    #[serde(rename = "in")]
    pub location: KeyLocation,
    /// Header or query-parameter name.
    pub name: String,
    /// Text put verbatim before the key (`"Bearer "`, `"Token token="`).
    #[serde(default)]
    pub prefix: String,
    /// Further values the provider wants next to the key (Trello's `token`, Datadog's
    /// application key), each its own connection field.
    #[serde(default)]
    pub extra: Vec<ExtraKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraKey {
    /// The connection field's name.
    pub field: String,
    pub display_name: String,
    pub description: String,
    #[serde(rename = "in")]
    pub location: KeyLocation,
    pub name: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "yes")]
    pub secret: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyLocation {
    Header,
    Query,
}

impl KeyLocation {
    pub const ALL: [KeyLocation; 2] = [KeyLocation::Header, KeyLocation::Query];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyLocation::Header => "header",
            KeyLocation::Query => "query",
        }
    }
}

/// HTTP Basic (RFC 7617); labels say what this provider calls the two halves.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicSpec {
    #[serde(default = "username_label")]
    pub username_label: String,
    #[serde(default = "password_label")]
    pub password_label: String,
    /// For providers that ignore one half (Freshdesk: the password is any text).
    #[serde(default)]
    pub username_default: Option<String>,
    #[serde(default)]
    pub password_default: Option<String>,
}

fn username_label() -> String {
    "Username".to_string()
}

fn password_label() -> String {
    "Password".to_string()
}

/// Username and password exchanged at `token_url` for a JWT sent as a bearer token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSpec {
    pub token_url: UrlTemplate,
}

/// A Google service-account key signing a JWT assertion (RFC 7523) at `token_url`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GsaSpec {
    #[serde(default = "google_token_url")]
    pub token_url: UrlTemplate,
    #[serde(default)]
    pub default_scopes: Vec<String>,
}

fn google_token_url() -> UrlTemplate {
    UrlTemplate("https://oauth2.googleapis.com/token".to_string())
}
