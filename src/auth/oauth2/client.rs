//! The OAuth 2.0 client, over the `oauth2` crate and keyport's one outbound HTTP client
//! (no redirects followed, bounded bodies). It knows the protocol — authorization URLs with
//! PKCE S256 and `state`, code exchange, refresh, client credentials, RFC 7009 revocation —
//! and nothing of storage: the service decides when to call it and what to keep.

use std::cell::RefCell;
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, Client, ClientId, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use super::response::{self, KeyportTokenResponse};
use super::shape;
use crate::net::{Net, NetError};
use crate::providers::catalog::ValueSource;
use crate::secret::{AccessToken, ClientSecret, RefreshToken};

type OAuthClient = Client<
    BasicErrorResponse,
    KeyportTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
>;

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuth {
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// HTTP Basic with the client credentials.
    Basic,
    /// Public client: `client_id` only.
    None,
}

/// One integration's OAuth 2.0 configuration, URLs already rendered.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub authorization_url: Option<String>,
    pub token_url: String,
    pub revocation_url: Option<String>,
    pub redirect_uri: Option<String>,
    pub scopes: Vec<String>,
    pub scope_separator: String,
    pub authorization_params: Vec<(String, String)>,
    pub token_params: Vec<(String, String)>,
    pub pkce: bool,
    pub token_auth: TokenAuth,
    /// Token requests as JSON rather than a form (Notion).
    pub json_body: bool,
    /// Where the tokens are in a token response, when not at its top (Slack user tokens:
    /// `authed_user`).
    pub tokens_at: Option<String>,
    /// Connection variables taken from token responses: name → where.
    pub response_vars: Vec<(String, ValueSource)>,
}

/// What went wrong talking to an authorization server. Messages never carry a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    #[error("the OAuth configuration is invalid: {0}")]
    Config(String),
    /// The server answered with an OAuth error (`invalid_grant`, `invalid_client`…).
    #[error("the authorization server refused: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        code: String,
        description: Option<String>,
    },
    #[error("the authorization server could not be reached: {0}")]
    Network(String),
    #[error("the authorization server's answer is unusable: {0}")]
    BadResponse(String),
}

impl OAuthError {
    /// Stable machine-readable code: a bad configuration is the caller's input; anything the
    /// authorization server did or failed to do is upstream.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::Config(_) => "invalid_input",
            OAuthError::Refused { .. } | OAuthError::Network(_) | OAuthError::BadResponse(_) => {
                "upstream_failed"
            }
        }
    }

    /// The grant itself is dead (revoked, expired, reused): the user must reconnect.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, OAuthError::Refused { code, .. } if code == "invalid_grant")
    }

    /// Worth retrying later: the server or the network failed, not the grant.
    pub fn is_transient(&self) -> bool {
        matches!(self, OAuthError::Network(_))
            || matches!(self, OAuthError::BadResponse(m) if m.starts_with("HTTP 5"))
    }
}

/// A token endpoint's successful answer.
#[derive(Debug)]
pub struct Grant {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub expires_in: Option<Duration>,
    /// How long the refresh token lives, where the provider says (`refresh_token_expires_in`).
    pub refresh_expires_in: Option<Duration>,
    pub scopes: Option<Vec<String>>,
    pub token_type: String,
    /// Connection variables the response carried (`OAuthConfig::response_vars`).
    pub vars: Vec<(String, String)>,
}

/// Largest `expires_in` (and `refresh_token_expires_in`) believed (a year); anything larger
/// is clamped.
const MAX_EXPIRES_IN: u64 = 365 * 24 * 3600;

fn url_error(field: &str) -> impl FnOnce(url::ParseError) -> OAuthError + '_ {
    move |e| OAuthError::Config(format!("{field}: {e}"))
}

fn client(config: &OAuthConfig) -> Result<OAuthClient, OAuthError> {
    let mut client = Client::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri_option(
            config
                .authorization_url
                .clone()
                .map(AuthUrl::new)
                .transpose()
                .map_err(url_error("authorization_url"))?,
        )
        .set_token_uri_option(Some(
            TokenUrl::new(config.token_url.clone()).map_err(url_error("token_url"))?,
        ))
        .set_auth_type(match config.token_auth {
            TokenAuth::Basic => AuthType::BasicAuth,
            TokenAuth::Post | TokenAuth::None => AuthType::RequestBody,
        });
    if let Some(secret) = &config.client_secret
        && config.token_auth != TokenAuth::None
    {
        client = client.set_client_secret(oauth2::ClientSecret::new(
            secret.expose_secret().to_string(),
        ));
    }
    if let Some(redirect) = &config.redirect_uri {
        client = client.set_redirect_uri(
            RedirectUrl::new(redirect.clone()).map_err(url_error("redirect_uri"))?,
        );
    }
    Ok(client)
}

fn scope(config: &OAuthConfig) -> Option<Scope> {
    (!config.scopes.is_empty()).then(|| Scope::new(config.scopes.join(&config.scope_separator)))
}

/// A started authorization: where to send the browser, and what to keep server-side.
pub struct Authorization {
    pub url: String,
    pub pkce_verifier: Option<SecretString>,
}

/// The authorization URL for a new flow with the given `state` (≥ 128 random bits, made by
/// the caller) and, unless the provider cannot do it, a fresh PKCE S256 challenge.
/// OpenID Connect grants `offline_access` (a refresh token) only when the user is asked
/// for consent (Core §11: without `prompt=consent` the server must ignore the scope), so a
/// request for it without a `prompt` of its own gets `prompt=consent`.
fn asks_offline_without_consent(config: &OAuthConfig) -> bool {
    config.scopes.iter().any(|s| s == "offline_access")
        && !config
            .authorization_params
            .iter()
            .any(|(name, _)| name == "prompt")
}

pub fn authorization(config: &OAuthConfig, state: &str) -> Result<Authorization, OAuthError> {
    let client = client(config)?;
    let state = state.to_string();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .map_err(|e| OAuthError::Config(format!("authorization_url: {e}")))?;
    if let Some(scope) = scope(config) {
        request = request.add_scope(scope);
    }
    for (name, value) in &config.authorization_params {
        request = request.add_extra_param(name.clone(), value.clone());
    }
    if asks_offline_without_consent(config) {
        request = request.add_extra_param("prompt", "consent");
    }
    let mut pkce_verifier = None;
    if config.pkce {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        pkce_verifier = Some(SecretString::from(verifier.secret().clone()));
    }
    let (url, _) = request.url();
    Ok(Authorization {
        url: url.to_string(),
        pkce_verifier,
    })
}

fn grant(response: KeyportTokenResponse) -> Result<Grant, OAuthError> {
    let access_token = response.access_token().secret().clone();
    if access_token.is_empty() {
        return Err(OAuthError::BadResponse("access_token is empty".into()));
    }
    Ok(Grant {
        access_token: AccessToken::new(access_token),
        refresh_token: response
            .refresh_token()
            .map(|t| RefreshToken::new(t.secret().as_str())),
        expires_in: response
            .expires_in()
            .map(|d| d.min(Duration::from_secs(MAX_EXPIRES_IN))),
        refresh_expires_in: response
            .refresh_token_expires_in()
            .map(|d| d.min(Duration::from_secs(MAX_EXPIRES_IN))),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
        token_type: response.token_type_name(),
        vars: Vec::new(),
    })
}

fn map_error(e: RequestTokenError<NetError, BasicErrorResponse>) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(err) => OAuthError::Refused {
            code: err.error().to_string(),
            description: err
                .error_description()
                .map(|d| d.chars().take(300).collect()),
        },
        RequestTokenError::Request(net) => OAuthError::Network(net.to_string()),
        // The body may hold tokens: report only its shape.
        RequestTokenError::Parse(_, body) => OAuthError::BadResponse(format!(
            "the token response is not JSON with an access_token ({} bytes)",
            body.len()
        )),
        RequestTokenError::Other(msg) => OAuthError::BadResponse(response::sanitize(&msg)),
    }
}

/// The shared client as oauth2 sees it: redirects and server errors become transport
/// errors (never followed, never parsed as token responses).
fn http(
    net: &Net,
) -> impl Fn(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, NetError> + '_ {
    move |request| {
        let response = net.send(request)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(NetError::Other(format!(
                "the endpoint answered with a redirect (HTTP {status}), which is not followed"
            )));
        }
        if status >= 500 {
            return Err(NetError::Other(format!("HTTP {status} from the server")));
        }
        Ok(response)
    }
}

/// What the three token requests (code, refresh, client credentials) share, so each is
/// finished and sent one way.
trait TokenRequest: Sized {
    fn param(self, name: String, value: String) -> Self;
    fn send(self, net: &Net, config: &OAuthConfig) -> Result<Grant, OAuthError>;
}

macro_rules! token_request {
    ($($request:ident),*) => {$(
        impl TokenRequest for oauth2::$request<'_, BasicErrorResponse, KeyportTokenResponse> {
            fn param(self, name: String, value: String) -> Self {
                self.add_extra_param(name, value)
            }
            fn send(self, net: &Net, config: &OAuthConfig) -> Result<Grant, OAuthError> {
                let vars = RefCell::new(Vec::new());
                let granted = self
                    .request(&shape::shaped(http(net), config, &vars))
                    .map_err(map_error)
                    .and_then(grant)?;
                Ok(Grant { vars: vars.into_inner(), ..granted })
            }
        }
    )*};
}

token_request!(
    CodeTokenRequest,
    RefreshTokenRequest,
    ClientCredentialsTokenRequest
);

/// Adds the integration's `token_params` and sends.
fn finish<R: TokenRequest>(
    request: R,
    config: &OAuthConfig,
    net: &Net,
) -> Result<Grant, OAuthError> {
    config
        .token_params
        .iter()
        .fold(request, |r, (name, value)| {
            r.param(name.clone(), value.clone())
        })
        .send(net, config)
}

fn no_token_url(e: oauth2::ConfigurationError) -> OAuthError {
    OAuthError::Config(format!("token_url: {e}"))
}

/// Exchanges an authorization code (with the flow's PKCE verifier).
pub fn exchange_code(
    net: &Net,
    config: &OAuthConfig,
    code: &str,
    verifier: Option<&SecretString>,
) -> Result<Grant, OAuthError> {
    let client = client(config)?;
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(no_token_url)?;
    if let Some(v) = verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_string()));
    }
    finish(request, config, net)
}

/// Uses a refresh token. A response without `refresh_token` means "keep the old one".
pub fn refresh(
    net: &Net,
    config: &OAuthConfig,
    refresh_token: &RefreshToken,
) -> Result<Grant, OAuthError> {
    let client = client(config)?;
    let token = oauth2::RefreshToken::new(refresh_token.expose_secret().to_string());
    let request = client
        .exchange_refresh_token(&token)
        .map_err(no_token_url)?;
    finish(request, config, net)
}

/// The client-credentials grant (machine tokens, no user).
pub fn client_credentials(net: &Net, config: &OAuthConfig) -> Result<Grant, OAuthError> {
    let client = client(config)?;
    let mut request = client.exchange_client_credentials().map_err(no_token_url)?;
    if let Some(scope) = scope(config) {
        request = request.add_scope(scope);
    }
    finish(request, config, net)
}

/// RFC 7009 revocation of a refresh token (or, without one, the access token). Written
/// here rather than through the oauth2 crate, which refuses non-https revocation URLs even
/// on loopback.
pub fn revoke(
    net: &Net,
    config: &OAuthConfig,
    refresh_token: Option<&RefreshToken>,
    access_token: Option<&AccessToken>,
) -> Result<(), OAuthError> {
    let Some(url) = &config.revocation_url else {
        return Ok(());
    };
    let (token, hint) = match (refresh_token, access_token) {
        (Some(rt), _) => (rt.expose_secret(), "refresh_token"),
        (None, Some(at)) => (at.expose_secret(), "access_token"),
        (None, None) => return Ok(()),
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token)
        .append_pair("token_type_hint", hint);
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(url.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json");
    match (config.token_auth, &config.client_secret) {
        (TokenAuth::Basic, Some(secret)) => {
            use base64::Engine as _;
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&config.client_id), enc(secret.expose_secret()));
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            request = request.header(http::header::AUTHORIZATION, value);
        }
        (TokenAuth::Post, Some(secret)) => {
            form.append_pair("client_id", &config.client_id)
                .append_pair("client_secret", secret.expose_secret());
        }
        _ => {
            form.append_pair("client_id", &config.client_id);
        }
    }
    let request = request
        .body(form.finish().into_bytes())
        .map_err(|e| OAuthError::Config(format!("revocation_url: {e}")))?;
    let response = http(net)(request).map_err(|e| OAuthError::Network(e.to_string()))?;
    match response.status().as_u16() {
        200..=299 => Ok(()),
        status => Err(OAuthError::BadResponse(format!(
            "HTTP {status} from the revocation endpoint"
        ))),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn config(scopes: &[&str], params: &[(&str, &str)]) -> OAuthConfig {
        OAuthConfig {
            client_id: "c".into(),
            client_secret: None,
            authorization_url: Some("https://idp.example/auth".into()),
            token_url: "https://idp.example/token".into(),
            revocation_url: None,
            redirect_uri: Some("http://127.0.0.1:1/callback/app".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scope_separator: " ".into(),
            authorization_params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            token_params: Vec::new(),
            pkce: true,
            token_auth: TokenAuth::Post,
            json_body: false,
            tokens_at: None,
            response_vars: Vec::new(),
        }
    }

    fn prompts(config: &OAuthConfig) -> Vec<String> {
        let url = url::Url::parse(&authorization(config, "s").unwrap().url).unwrap();
        url.query_pairs()
            .filter(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
            .collect()
    }

    #[test]
    fn offline_access_asks_for_consent_unless_a_prompt_is_configured() {
        assert_eq!(
            prompts(&config(&["openid", "offline_access"], &[])),
            ["consent"]
        );
        assert!(prompts(&config(&["openid"], &[])).is_empty());
        let own = config(
            &["openid", "offline_access"],
            &[("prompt", "login consent")],
        );
        assert_eq!(prompts(&own), ["login consent"]);
    }
}
