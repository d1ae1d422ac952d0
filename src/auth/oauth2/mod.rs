//! OAuth 2.0 (RFC 6749): an integration's client settings, a connection's tokens, and the
//! protocol over the `oauth2` crate ([`client`]): the authorization URL with PKCE S256 and
//! `state`, the code exchange, refresh, client credentials and RFC 7009 revocation. The
//! catalog's token-endpoint quirks (JSON bodies, nested tokens, variables from the token
//! response) are applied between the crate and the HTTP client (`shape`).
//!
//! Wire keys: the integration's `client_id`, `client_secret` (sealed), `authorization_url`,
//! `token_url` and `revocation_url` (`{variable}` templates filled from the connection),
//! `authorization_params`, `token_params`, `pkce`, `token_auth`, `issuer` and `grant_type`,
//! with the catalog's defaults beneath them; the connection's `access_token` and
//! `refresh_token` (sealed), `expires_at`, `issued_at`, `refresh_token_expires_at`, `scope`
//! and `token_type`.

pub mod client;
pub mod discovery;
mod response;
mod shape;

use serde_json::{Map, Value};

pub use client::{
    Authorization, Grant, OAuthConfig, OAuthError, TokenAuth, authorization, client_credentials,
    exchange_code, refresh, revoke,
};
pub use response::KeyportTokenResponse;

use super::endpoint::usable;
use super::{AuthError, Cached, Fields, Issuer, RenewError, Renewed, Stored, scope_list};
use crate::net::Net;
use crate::providers::catalog::{OAuth2Spec, SchemeDetails, TokenRequest};
use crate::providers::fields::render_template;
use crate::secret::{ClientSecret, RefreshToken, Secret};

/// An OAuth 2.0 connection opened: the client configuration rendered for it, and its
/// tokens.
#[derive(Debug)]
pub struct OAuth2 {
    config: Result<OAuthConfig, AuthError>,
    client_credentials: bool,
    issuer: Option<String>,
    /// The issuer was configured (not guessed from the authorization URL): its
    /// authorization server sends `iss`, so an answer without one is refused (RFC 9207 §2.4).
    issuer_required: bool,
    cached: Cached,
    refresh_token: Option<RefreshToken>,
}

/// An object setting's entries as strings (`authorization_params`, `token_params`).
fn pairs(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Null => None,
                other => Some((k.clone(), other.to_string())),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization())
}

/// The client configuration: the integration's settings over the catalog's defaults, URLs
/// rendered with the connection's variables.
fn configure(
    spec: &OAuth2Spec,
    config: &Fields<'_>,
    stored: &Stored<'_>,
) -> Result<OAuthConfig, AuthError> {
    let given = |k: &str| config.text(k).filter(|s| !s.is_empty());
    let vars = stored.connection.variables();
    let render = |k: &str| {
        given(k)
            .map(|t| render_template(t, &vars).map_err(|e| AuthError::field(e.field, e.reason)))
            .transpose()
    };
    let token_auth = match given("token_auth").unwrap_or(spec.token_auth.as_str()) {
        "client_secret_basic" => TokenAuth::Basic,
        "none" => TokenAuth::None,
        _ => TokenAuth::Post,
    };
    let client_secret: Option<Secret> = config.secret("client_secret");
    let machine = config.text("grant_type") == Some("client_credentials");
    if machine {
        refuse_for_machines(spec, &vars)?;
    }
    let mut authorization_params = pairs(config.value("authorization_params"));
    let mut tokens_at = None;
    if let (Some(user), Some(scopes)) = (&spec.user_scopes, scope_list(config.value("user_scopes")))
        && !scopes.is_empty()
    {
        authorization_params.push((user.param.clone(), scopes.join(&spec.scope_separator)));
        tokens_at = Some(user.tokens_at.clone());
    }
    let scopes = if machine
        && !spec.client_credentials_scopes.is_empty()
        && (stored.scopes.is_empty() || stored.scopes == spec.default_scopes.as_slice())
    {
        spec.client_credentials_scopes.clone()
    } else {
        stored.scopes.to_vec()
    };
    Ok(OAuthConfig {
        client_id: given("client_id")
            .ok_or_else(|| AuthError::field("client_id", "the integration has no client id"))?
            .to_string(),
        client_secret: client_secret
            .filter(|s| !s.is_empty())
            .map(|s| ClientSecret::new(s.expose_secret())),
        authorization_url: render("authorization_url")?,
        token_url: render("token_url")?
            .ok_or_else(|| AuthError::field("token_url", "the integration has no token URL"))?,
        revocation_url: render("revocation_url")?,
        redirect_uri: Some(stored.callback_url.to_string()),
        scopes,
        scope_separator: spec.scope_separator.clone(),
        authorization_params,
        token_params: pairs(config.value("token_params")),
        pkce: config
            .value("pkce")
            .and_then(Value::as_bool)
            .unwrap_or(spec.pkce),
        token_auth,
        json_body: spec.token_request == TokenRequest::Json,
        tokens_at,
        response_vars: spec
            .token_response_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// A client-credentials grant with a variable the provider refuses for it (Microsoft's
/// `common` tenant): said before any request.
fn refuse_for_machines(spec: &OAuth2Spec, vars: &Map<String, Value>) -> Result<(), AuthError> {
    for (name, refused) in &spec.client_credentials_refuses {
        if let Some(value) = vars.get(name).and_then(Value::as_str)
            && refused.iter().any(|r| r.eq_ignore_ascii_case(value))
        {
            return Err(AuthError::field(
                name.clone(),
                format!(
                    "the client-credentials grant needs a specific {name} (your directory's id                      or domain), not {value:?}"
                ),
            ));
        }
    }
    Ok(())
}

impl OAuth2 {
    pub(super) fn open(stored: &Stored<'_>) -> Self {
        let config = &stored.integration;
        let client = match stored.spec {
            Some(SchemeDetails::OAuth2(spec)) => configure(spec, config, stored),
            _ => Err(AuthError::Config(format!(
                "{} does not support OAUTH2",
                stored.app_key
            ))),
        };
        let configured = config.text("issuer").filter(|s| !s.is_empty());
        let issuer = match configured {
            Some(issuer) => Some(issuer.to_string()),
            None => client
                .as_ref()
                .ok()
                .and_then(|c| c.authorization_url.as_deref())
                .and_then(origin),
        };
        OAuth2 {
            config: client,
            client_credentials: config.text("grant_type") == Some("client_credentials"),
            issuer,
            issuer_required: configured.is_some(),
            cached: Cached::open(&stored.connection),
            refresh_token: stored.connection.secret("refresh_token"),
        }
    }

    pub fn config(&self) -> Result<&OAuthConfig, AuthError> {
        self.config.as_ref().map_err(Clone::clone)
    }

    /// The integration grants tokens to the client itself: no user, no browser.
    pub fn uses_client_credentials(&self) -> bool {
        self.client_credentials
    }

    /// Renewals use a refresh token (not client credentials), and the connection holds one:
    /// a grant that can lapse unused, which keep-alive refreshes ahead of time.
    pub fn refreshes_with_token(&self) -> bool {
        !self.client_credentials && self.refresh_token.is_some()
    }

    /// The `iss` a callback must carry, if any (RFC 9207): the configured issuer, else the
    /// authorization server's origin.
    pub fn expected_issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Whether a callback without `iss` is refused: the issuer was configured.
    pub fn requires_iss(&self) -> bool {
        self.issuer_required
    }

    /// The authorization URL for a new flow with `state`, with a fresh PKCE verifier unless
    /// the provider cannot do PKCE.
    pub fn authorization(&self, state: &str) -> Result<Authorization, AuthError> {
        authorization(self.config()?, state).map_err(|e| AuthError::Config(e.to_string()))
    }

    /// Exchanges the callback's code (with the flow's PKCE verifier) for the first tokens.
    pub fn exchange_code(
        &self,
        net: &Net,
        code: &str,
        verifier: Option<&secrecy::SecretString>,
        now: i64,
    ) -> Result<Renewed, OAuthError> {
        let config = self
            .config()
            .map_err(|e| OAuthError::Config(e.to_string()))?;
        exchange_code(net, config, code, verifier).map(|grant| renewed(grant, now))
    }
}

/// A grant as the connection keeps it, issued `now`; the expiries are counted from then.
fn renewed(grant: Grant, now: i64) -> Renewed {
    let after = |d: std::time::Duration| {
        now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
    };
    Renewed {
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        expires_at: grant.expires_in.map(after),
        issued_at: Some(now),
        refresh_expires_at: grant.refresh_expires_in.map(after),
        scope: grant.scopes.map(|s| s.join(" ")),
        token_type: Some(grant.token_type),
        vars: grant.vars,
    }
}

fn renew_error(e: OAuthError) -> RenewError {
    if e.is_invalid_grant() {
        return RenewError::Dead(format!("the provider refused the refresh token: {e}"));
    }
    match e {
        OAuthError::Refused { .. } => RenewError::Refused(e.into()),
        OAuthError::Config(_) => RenewError::Unusable(AuthError::Config(e.to_string())),
        OAuthError::Network(_) | OAuthError::BadResponse(_) => RenewError::Transient(e.into()),
    }
}

impl Issuer for OAuth2 {
    fn cached(&self) -> &Cached {
        &self.cached
    }

    /// Client credentials when the integration is a machine client, else the refresh
    /// token; without one there is nothing to renew with.
    fn renew(&self, net: &Net, now: i64) -> Result<Renewed, RenewError> {
        let config = usable(&self.config)?;
        let grant = if self.client_credentials {
            client_credentials(net, config)
        } else if let Some(refresh_token) = &self.refresh_token {
            refresh(net, config, refresh_token)
        } else {
            return Err(RenewError::Exhausted(
                "the access token expired and the provider gave no refresh token".into(),
            ));
        };
        grant.map(|g| renewed(g, now)).map_err(renew_error)
    }

    fn revoke(&self, net: &Net) -> Option<Result<(), AuthError>> {
        let config = self.config().ok()?;
        config.revocation_url.as_ref()?;
        Some(
            revoke(
                net,
                config,
                self.refresh_token.as_ref(),
                self.cached.access_token.as_ref(),
            )
            .map_err(AuthError::from),
        )
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::domain::AuthScheme;
    use crate::secret::{AccessToken, SecretFields};

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("http://127.0.0.1:9/auth?x=1").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            origin("https://accounts.google.com/o/oauth2/v2/auth").as_deref(),
            Some("https://accounts.google.com")
        );
    }

    fn spec() -> SchemeDetails {
        serde_json::from_value(json!({
            "mode": "OAUTH2",
            "authorization_url": "https://{tenant}.example/auth",
            "token_url": "https://{tenant}.example/token",
            "token_auth": "client_secret_post",
        }))
        .unwrap()
    }

    fn open(config: Value, sealed: Value, params: Value) -> OAuth2 {
        open_with(&spec(), &["a".to_string()], config, sealed, params)
    }

    fn open_with(
        spec: &SchemeDetails,
        scopes: &[String],
        config: Value,
        sealed: Value,
        params: Value,
    ) -> OAuth2 {
        let config = config.as_object().unwrap().clone();
        let sealed: SecretFields = serde_json::from_value(sealed).unwrap();
        let params = params.as_object().unwrap().clone();
        let tokens = SecretFields::default();
        let stored = Stored {
            scheme: AuthScheme::OAuth2,
            spec: Some(spec),
            app_key: "app",
            integration: Fields::new(&config, &sealed),
            scopes,
            connection: Fields::new(&params, &tokens),
            callback_url: "http://127.0.0.1:1/callback/app",
        };
        OAuth2::open(&stored)
    }

    #[test]
    fn the_client_configuration_renders_templates_over_catalog_defaults() {
        let opened = open(
            json!({"client_id": "c", "token_url": "https://{tenant}.example/t",
                   "authorization_url": "https://{tenant}.example/auth", "pkce": true}),
            json!({"client_secret": "s"}),
            json!({"tenant": "acme"}),
        );
        let config = opened.config().unwrap();
        assert_eq!(config.token_url, "https://acme.example/t");
        assert_eq!(config.token_auth, TokenAuth::Post);
        assert!(config.pkce);
        assert_eq!(opened.expected_issuer(), Some("https://acme.example"));
        assert!(!format!("{opened:?}").contains("\"s\""));

        let unset = open(json!({"client_id": "c"}), json!({}), json!({}));
        match unset.config() {
            Err(AuthError::Field { field, .. }) => assert_eq!(field, "token_url"),
            other => panic!("{other:?}"),
        }
        let untemplated = open(
            json!({"client_id": "c", "token_url": "https://{tenant}.example/t"}),
            json!({}),
            json!({}),
        );
        match untemplated.config() {
            Err(AuthError::Field { field, .. }) => assert_eq!(field, "tenant"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn machine_grants_need_a_named_tenant_and_their_own_scopes() {
        // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
        let spec: SchemeDetails = serde_json::from_value(json!({
            "mode": "OAUTH2",
            "authorization_url": "https://login.example/{tenant}/oauth2/v2.0/authorize",
            "token_url": "https://login.example/{tenant}/oauth2/v2.0/token",
            "default_scopes": ["offline_access", "User.Read"],
            "client_credentials": true,
            "client_credentials_scopes": ["https://graph.microsoft.com/.default"],
            "client_credentials_refuses": {"tenant": ["common", "organizations", "consumers"]},
        }))
        .unwrap();
        let defaults = ["offline_access".to_string(), "User.Read".to_string()];
        let urls = json!({
            "client_id": "c",
            "authorization_url": "https://login.example/{tenant}/oauth2/v2.0/authorize",
            "token_url": "https://login.example/{tenant}/oauth2/v2.0/token",
        });
        let mut machine = urls.clone();
        machine["grant_type"] = json!("client_credentials");
        let common = open_with(
            &spec,
            &defaults,
            machine.clone(),
            json!({}),
            json!({"tenant": "common"}),
        );
        match common.config() {
            Err(AuthError::Field { field, reason }) => {
                assert_eq!(field, "tenant");
                assert!(reason.contains("client-credentials"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let named = open_with(
            &spec,
            &defaults,
            machine,
            json!({}),
            json!({"tenant": "contoso.onmicrosoft.com"}),
        );
        let config = named.config().unwrap();
        assert_eq!(
            config.token_url,
            "https://login.example/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(config.scopes, ["https://graph.microsoft.com/.default"]);
        // Users sign in through `common` with the delegated scopes.
        let user = open_with(
            &spec,
            &defaults,
            urls,
            json!({}),
            json!({"tenant": "common"}),
        );
        let config = user.config().unwrap();
        assert_eq!(config.scopes, defaults);
        assert!(
            config
                .authorization_url
                .as_deref()
                .unwrap()
                .contains("/common/")
        );
    }

    fn grant_at(token: &str, refresh: Option<&str>) -> Grant {
        Grant {
            access_token: AccessToken::new(token),
            refresh_token: refresh.map(RefreshToken::new),
            expires_in: None,
            refresh_expires_in: None,
            scopes: None,
            token_type: "Bearer".into(),
            vars: Vec::new(),
        }
    }

    #[test]
    fn grants_become_renewals_dated_from_now() {
        let grant = Grant {
            access_token: AccessToken::new("at"),
            refresh_token: None,
            expires_in: Some(Duration::from_secs(60)),
            refresh_expires_in: Some(Duration::from_secs(600)),
            scopes: Some(vec!["a".into(), "b".into()]),
            token_type: "Bearer".into(),
            vars: Vec::new(),
        };
        let renewal = renewed(grant, 1000);
        assert_eq!(
            (renewal.issued_at, renewal.expires_at),
            (Some(1000), Some(1060))
        );
        assert_eq!(renewal.refresh_expires_at, Some(1600));
        assert_eq!(renewal.scope.as_deref(), Some("a b"));
        let mut params = serde_json::Map::new();
        let mut sealed = SecretFields::default();
        renewal.store(&mut params, &mut sealed);
        assert_eq!(params["refresh_token_expires_at"], json!(1600));
        // A refresh that keeps the refresh token and says nothing of it keeps its lapse; a
        // new refresh token of unknown lifetime clears it.
        let kept = Renewed {
            refresh_expires_at: None,
            ..renewed(grant_at("at2", None), 1100)
        };
        kept.store(&mut params, &mut sealed);
        assert_eq!(params["refresh_token_expires_at"], json!(1600));
        assert_eq!(params["issued_at"], json!(1100));
        renewed(grant_at("at3", Some("rt3")), 1200).store(&mut params, &mut sealed);
        assert!(
            params.get("refresh_token_expires_at").is_none(),
            "{params:?}"
        );

        let no_rt = open(
            json!({"client_id": "c", "token_url": "https://x.example/t"}),
            json!({}),
            json!({}),
        );
        assert!(matches!(
            no_rt.renew(&Net::default(), 0),
            Err(RenewError::Exhausted(_))
        ));
    }
}
