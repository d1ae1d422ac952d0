//! OAuth 2.0 connections: initiating a browser flow (state, PKCE, the connect page), the
//! loopback callback (state, issuer and path checks before any token request), and the
//! token lifecycle — a valid access token on every use, refreshed ahead of expiry by exactly
//! one caller per connection, the new tokens committed before anyone sees them, dead grants
//! marked EXPIRED, transient failures backed off — plus client credentials and RFC 7009
//! revocation on delete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::connections::CreatedConnection;
use super::integrations::check_url;
use super::{Service, unknown_app};
use crate::auth::Credentials;
use crate::domain::{Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId};
use crate::net::Net;
use crate::oauth::{self, Grant, OAuthConfig, OAuthError, TokenAuth};
use crate::providers::App;
use crate::providers::catalog::SchemeDetails;
use crate::service::{Error, Result};
use crate::store::{NewConnection, SecretUpdate, connections, flows};

/// How long a started authorization stays usable.
pub const FLOW_TTL_SECS: i64 = 600;
/// Refresh this long before the access token expires.
const REFRESH_AHEAD_SECS: i64 = 60;
/// Back-off after a failed refresh: doubles from this, capped below.
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Process-wide OAuth state held by the service.
pub struct OAuthState {
    net: Net,
    flights: Mutex<HashMap<ConnectionId, Arc<Mutex<()>>>>,
    backoff: Mutex<HashMap<ConnectionId, (Instant, Duration)>>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl OAuthState {
    pub(super) fn new(token_timeout: Duration) -> Self {
        OAuthState {
            // Token responses are small; a megabyte is generous.
            net: Net::new(token_timeout, 1024 * 1024),
            flights: Mutex::default(),
            backoff: Mutex::default(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }
}

/// Refresh this long before expiry: a minute, or half the lifetime of short-lived tokens
/// (so a fresh 30-second token is not refreshed again at once).
fn refresh_margin(params: &Map<String, Value>) -> i64 {
    let lifetime = match (
        params.get("expires_at").and_then(Value::as_i64),
        params.get("issued_at").and_then(Value::as_i64),
    ) {
        (Some(expires), Some(issued)) => expires - issued,
        _ => 2 * REFRESH_AHEAD_SECS,
    };
    REFRESH_AHEAD_SECS.min(lifetime / 2)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal("system random failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization())
}

/// A browser flow about to start: the INITIATED connection and what the callback needs.
pub(super) struct PendingFlow<'a> {
    pub id: ConnectionId,
    pub integration: &'a Integration,
    pub entity: &'a EntityId,
    pub labels: &'a [String],
    pub params: &'a Map<String, Value>,
    /// The value the provider echoes back (OAuth 2.0 `state`, OAuth 1.0a `oauth_token`);
    /// stored only as a hash.
    pub state_key: &'a str,
    /// Sealed with the flow: `authorize_url`, and the PKCE verifier or the temporary
    /// credentials' secret.
    pub flow_secrets: Map<String, Value>,
    pub redirect_after: Option<&'a str>,
    pub expected_issuer: Option<&'a str>,
}

/// What the callback page shows.
#[derive(Debug)]
pub struct CallbackOutcome {
    pub success: bool,
    pub title: String,
    pub message: String,
    /// Send the browser here instead of showing the page.
    pub redirect: Option<String>,
}

impl CallbackOutcome {
    fn failed(title: &str, message: impl Into<String>) -> Self {
        CallbackOutcome {
            success: false,
            title: title.into(),
            message: message.into(),
            redirect: None,
        }
    }
}

/// The query a provider sends to the callback. `Debug` leaves out the code and the state
/// (either lets its holder finish the flow).
#[derive(Default)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// OAuth 1.0a: the temporary token and the verifier.
    pub oauth_token: Option<String>,
    pub oauth_verifier: Option<String>,
    /// OAuth 1.0a providers that say no this way (X/Twitter).
    pub denied: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// What the connect page shows before sending the browser to the provider.
#[derive(Debug)]
pub struct ConnectPage {
    pub app_name: String,
    pub entity: String,
    pub scopes: Vec<String>,
    pub authorize_url: String,
}

fn str_list(value: Option<&Value>) -> Vec<(String, String)> {
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

impl Service {
    pub(super) fn notify_change(&self) {
        self.oauth.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The client for token endpoints (small bodies, no redirects).
    pub(super) fn net_oauth(&self) -> &Net {
        &self.oauth.net
    }

    /// A receiver that wakes whenever a connection's status changes.
    pub fn status_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.oauth.changes.subscribe()
    }

    /// The callback URL to register with the provider for `app_key` (RFC 8252 loopback).
    pub fn callback_url(&self, app_key: &str) -> String {
        format!("{}/callback/{app_key}", self.public_url)
    }

    /// The OAuth 2.0 configuration of an integration, URLs rendered for one connection.
    pub(crate) fn oauth_config(
        &self,
        app: &App,
        integration: &Integration,
        config: &Map<String, Value>,
        connection: &Connection,
    ) -> Result<OAuthConfig> {
        let Some(spec) = app
            .scheme(integration.auth_scheme)
            .and_then(|s| match &s.details {
                SchemeDetails::OAuth2(o) => Some(o),
                _ => None,
            })
        else {
            return Err(Error::invalid(format!(
                "{} does not support OAUTH2",
                app.key
            )));
        };
        let get = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let render = |k: &str| get(k).map(|u| self.render_for(u, connection)).transpose();
        let token_auth = match get("token_auth").unwrap_or(spec.token_auth.as_str()) {
            "client_secret_basic" => TokenAuth::Basic,
            "none" => TokenAuth::None,
            _ => TokenAuth::Post,
        };
        Ok(OAuthConfig {
            client_id: get("client_id")
                .ok_or_else(|| Error::invalid("client_id: the integration has no client id"))?
                .to_string(),
            client_secret: get("client_secret").map(|s| SecretString::from(s.to_string())),
            authorization_url: render("authorization_url")?,
            token_url: render("token_url")?
                .ok_or_else(|| Error::invalid("token_url: the integration has no token URL"))?,
            revocation_url: render("revocation_url")?,
            redirect_uri: Some(self.callback_url(&integration.app_key)),
            scopes: integration.scopes.clone(),
            scope_separator: spec.scope_separator.clone(),
            authorization_params: str_list(config.get("authorization_params")),
            token_params: str_list(config.get("token_params")),
            pkce: config
                .get("pkce")
                .and_then(Value::as_bool)
                .unwrap_or(spec.pkce),
            token_auth,
        })
    }

    fn uses_client_credentials(integration: &Integration) -> bool {
        integration.config_str("grant_type") == Some("client_credentials")
    }

    /// Starts a connection for an OAUTH2 integration: INITIATED with a connect-page link, or
    /// — for a client-credentials integration — ACTIVE with a machine token.
    pub(crate) fn initiate_oauth2(
        &self,
        app: &App,
        integration: &Integration,
        entity: &EntityId,
        labels: &[String],
        params: Map<String, Value>,
        redirect_after: Option<String>,
    ) -> Result<CreatedConnection> {
        let mut config = integration.config.clone();
        config.extend(self.integration_secrets(integration.id)?);
        let id = ConnectionId::new();
        let now = self.clock.stamp();
        let draft = Connection {
            id,
            integration_id: integration.id,
            entity_id: entity.clone(),
            app_key: integration.app_key.clone(),
            status: ConnectionStatus::Initiated,
            status_reason: None,
            labels: labels.to_vec(),
            params: params.clone(),
            secret_keys: Vec::new(),
            created_at: now.clone(),
            updated_at: now.clone(),
        };
        let oauth_config = self.oauth_config(app, integration, &config, &draft)?;

        if Self::uses_client_credentials(integration) {
            let grant = oauth::client_credentials(&self.oauth.net, &oauth_config)?;
            let (plain, secrets) = self.token_material(&params, &grant, None);
            let secret_keys: Vec<String> = secrets.keys().cloned().collect();
            let sealed = self.seal_map("connections", &id.to_string(), &secrets)?;
            self.store.write(|tx| {
                connections::insert(
                    tx,
                    &NewConnection {
                        id,
                        integration_id: integration.id,
                        entity_id: entity,
                        app_key: &integration.app_key,
                        status: ConnectionStatus::Active,
                        status_reason: None,
                        labels,
                        params: &plain,
                        secret_keys: &secret_keys,
                        secrets: sealed.as_deref(),
                        now: &now,
                    },
                )
            })?;
            return Ok(CreatedConnection {
                id,
                status: ConnectionStatus::Active,
                redirect_url: None,
            });
        }

        if let Some(url) = &redirect_after {
            self.check_redirect_after(integration, url)?;
        }
        let state = random_token()?;
        let authorization = oauth::authorization(&oauth_config, &state)?;
        let expected_issuer = match config
            .get("issuer")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(issuer) => Some(issuer.to_string()),
            None => oauth_config.authorization_url.as_deref().and_then(origin),
        };
        let mut flow_secrets = Map::new();
        flow_secrets.insert("authorize_url".into(), Value::String(authorization.url));
        if let Some(verifier) = &authorization.pkce_verifier {
            flow_secrets.insert(
                "pkce_verifier".into(),
                Value::String(verifier.expose_secret().to_string()),
            );
        }
        self.start_flow(PendingFlow {
            id,
            integration,
            entity,
            labels,
            params: &params,
            state_key: &state,
            flow_secrets,
            redirect_after: redirect_after.as_deref(),
            expected_issuer: expected_issuer.as_deref(),
        })
    }

    /// Stores an INITIATED connection and its pending flow in one transaction; returns the
    /// connect-page link.
    pub(super) fn start_flow(&self, flow: PendingFlow<'_>) -> Result<CreatedConnection> {
        let PendingFlow {
            id,
            integration,
            entity,
            labels,
            params,
            state_key,
            flow_secrets,
            redirect_after,
            expected_issuer,
        } = flow;
        let connect = random_token()?;
        let sealed_flow = self
            .seal_map("oauth_flows", &id.to_string(), &flow_secrets)?
            .ok_or_else(|| Error::Internal("empty flow".into()))?;
        let now = self.clock.stamp();
        let expires_at = self.clock.unix() + FLOW_TTL_SECS;
        self.store.write(|tx| {
            connections::insert(
                tx,
                &NewConnection {
                    id,
                    integration_id: integration.id,
                    entity_id: entity,
                    app_key: &integration.app_key,
                    status: ConnectionStatus::Initiated,
                    status_reason: None,
                    labels,
                    params,
                    secret_keys: &[],
                    secrets: None,
                    now: &now,
                },
            )?;
            flows::insert(
                tx,
                &flows::NewFlow {
                    connection_id: id,
                    state_hash: &hash(state_key),
                    connect_hash: &hash(&connect),
                    app_key: &integration.app_key,
                    secrets: &sealed_flow,
                    redirect_after,
                    expected_issuer,
                    now: &now,
                    expires_at,
                },
            )?;
            Ok::<_, Error>(())
        })?;
        Ok(CreatedConnection {
            id,
            status: ConnectionStatus::Initiated,
            redirect_url: Some(format!("{}/connect/{connect}", self.public_url)),
        })
    }

    /// Where the browser may go after connecting: loopback, or the integration's allow-list.
    pub(super) fn check_redirect_after(&self, integration: &Integration, url: &str) -> Result<()> {
        check_url("redirectUri", url)?;
        let parsed = url::Url::parse(url).map_err(|_| Error::invalid("redirectUri: not a URL"))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if loopback {
            return Ok(());
        }
        let allowed = integration
            .config
            .get("allowed_redirect_urls")
            .and_then(Value::as_array)
            .is_some_and(|list| {
                list.iter().filter_map(Value::as_str).any(|a| {
                    url::Url::parse(a).is_ok_and(|a| {
                        a.origin() == parsed.origin() && parsed.path().starts_with(a.path())
                    })
                })
            });
        if allowed {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "redirectUri: {} is neither a loopback URL nor on the integration's allowed_redirect_urls",
                parsed.origin().ascii_serialization()
            )))
        }
    }

    /// Turns INITIATED connections whose flow expired into FAILED.
    /// Every get and list calls this: it checks with a read first and takes the write
    /// lock only when a flow did expire, so reads stay parallel.
    pub(crate) fn expire_flows(&self) -> Result<()> {
        let now_unix = self.clock.unix();
        if !self.store.read(|db| flows::any_expired(db, now_unix))? {
            return Ok(());
        }
        let now = self.clock.stamp();
        let changed = self.store.write(|tx| flows::expire(tx, now_unix, &now))?;
        if changed > 0 {
            self.notify_change();
        }
        Ok(())
    }

    /// The connect page for a link handed out by `initiate_oauth2`.
    pub fn connect_page(&self, token: &str) -> std::result::Result<ConnectPage, CallbackOutcome> {
        let gone = || {
            CallbackOutcome::failed(
                "Link not valid",
                "This connect link is unknown or has expired. Start the connection again.",
            )
        };
        let flow = self
            .store
            .read(|db| flows::by_connect(db, &hash(token)))
            .map_err(|_| gone())?
            .ok_or_else(gone)?;
        if flow.used {
            return Err(CallbackOutcome::failed(
                "Already used",
                "This connect link was already used. Start the connection again if needed.",
            ));
        }
        if flow.expires_at < self.clock.unix() {
            let _ = self.expire_flows();
            return Err(gone());
        }
        let secrets = self
            .open_map(
                "oauth_flows",
                &flow.connection_id.to_string(),
                Some(&flow.secrets),
            )
            .map_err(|_| gone())?;
        let connection = self
            .store
            .read(|db| connections::get(db, flow.connection_id))
            .ok()
            .flatten()
            .ok_or_else(gone)?;
        let integration = self
            .load_integration(connection.integration_id)
            .map_err(|_| gone())?;
        let app_name = self
            .catalog
            .get(&flow.app_key)
            .map(|a| a.name.clone())
            .unwrap_or(flow.app_key.clone());
        Ok(ConnectPage {
            app_name,
            entity: connection.entity_id.as_str().to_string(),
            scopes: integration.scopes,
            authorize_url: secrets
                .get("authorize_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }

    fn fail_flow(&self, id: ConnectionId, reason: &str) {
        if let Err(e) = self.transition(id, ConnectionStatus::Failed, Some(reason)) {
            tracing::warn!(connection = %id, error = %e, "could not mark the connection FAILED");
        }
        self.notify_change();
    }

    /// Completes (or fails) a browser flow. Every check happens before the token request.
    pub fn oauth_callback(&self, app_key: &str, query: CallbackQuery) -> CallbackOutcome {
        // OAuth 2.0 echoes `state`; OAuth 1.0a echoes the temporary `oauth_token`.
        let echoed = query.state.as_deref().or(query.oauth_token.as_deref());
        let Some(state) = echoed.filter(|s| !s.is_empty()) else {
            return CallbackOutcome::failed(
                "Connection failed",
                "The provider's answer carries no state; nothing was changed.",
            );
        };
        let flow = match self.store.read(|db| flows::by_state(db, &hash(state))) {
            Ok(Some(flow)) => flow,
            Ok(None) => {
                return CallbackOutcome::failed(
                    "Connection failed",
                    "Unknown or expired authorization (state does not match any pending connection).",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "flow lookup failed");
                return CallbackOutcome::failed(
                    "Connection failed",
                    "keyport could not read its pending connections.",
                );
            }
        };
        let id = flow.connection_id;
        if flow.used {
            return CallbackOutcome::failed(
                "Connection failed",
                "This authorization was already used.",
            );
        }
        let now = self.clock.stamp();
        match self.store.write(|tx| flows::mark_used(tx, id, &now)) {
            Ok(true) => {}
            Ok(false) => {
                return CallbackOutcome::failed(
                    "Connection failed",
                    "This authorization was already used.",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "could not close the flow");
                return CallbackOutcome::failed(
                    "Connection failed",
                    "keyport could not record the authorization.",
                );
            }
        }
        let fail = |reason: String| {
            self.fail_flow(id, &reason);
            CallbackOutcome::failed("Connection failed", reason)
        };
        if flow.expires_at < self.clock.unix() {
            return fail(
                "The authorization took longer than 10 minutes; start the connection again.".into(),
            );
        }
        if !flow.app_key.eq_ignore_ascii_case(app_key) {
            return fail(format!(
                "The answer arrived at the callback of {app_key}, not {}; refused.",
                flow.app_key
            ));
        }
        if query.denied.is_some() {
            return fail("The provider refused: the user denied access".into());
        }
        if let Some(error) = &query.error {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            let description: String = query
                .error_description
                .as_deref()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            let reason = if description.is_empty() {
                format!("The provider refused: {code}")
            } else {
                format!("The provider refused: {code} ({description})")
            };
            return fail(reason);
        }
        match (&query.iss, &flow.expected_issuer) {
            (Some(iss), Some(expected))
                if iss.trim_end_matches('/') != expected.trim_end_matches('/') =>
            {
                return fail(
                    "The answer names another authorization server (iss mismatch); refused.".into(),
                );
            }
            _ => {}
        }
        let completed = if query.state.is_none() {
            let Some(verifier) = query.oauth_verifier.as_deref().filter(|v| !v.is_empty()) else {
                return fail("The provider's answer carries no oauth_verifier.".into());
            };
            self.complete_oauth1(id, &flow, verifier)
        } else {
            let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
                return fail("The provider's answer carries no authorization code.".into());
            };
            self.complete_code(id, &flow, code)
        };
        match completed {
            Ok(()) => {
                self.notify_change();
                let redirect = flow.redirect_after.map(|url| {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{sep}status=success&connectedAccountId={id}")
                });
                CallbackOutcome {
                    success: true,
                    title: "Connected".into(),
                    message: String::new(),
                    redirect,
                }
            }
            Err(e) => fail(format!("The token exchange failed: {e}")),
        }
    }

    fn complete_code(&self, id: ConnectionId, flow: &flows::Flow, code: &str) -> Result<()> {
        let connection = self
            .store
            .read(|db| connections::get(db, id))?
            .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
        let integration = self.load_integration(connection.integration_id)?;
        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| unknown_app(&integration.app_key))?;
        let mut config = integration.config.clone();
        config.extend(self.integration_secrets(integration.id)?);
        let oauth_config = self.oauth_config(app, &integration, &config, &connection)?;
        let flow_secrets = self.open_map("oauth_flows", &id.to_string(), Some(&flow.secrets))?;
        let verifier = flow_secrets
            .get("pkce_verifier")
            .and_then(Value::as_str)
            .map(|v| SecretString::from(v.to_string()));
        let grant = oauth::exchange_code(&self.oauth.net, &oauth_config, code, verifier.as_ref())?;
        self.store_grant(&connection, &grant, None, ConnectionStatus::Active)
    }

    /// Token material to keep: secrets (tokens) and plain params (expiry, scope, type).
    fn token_material(
        &self,
        params: &Map<String, Value>,
        grant: &Grant,
        old_refresh: Option<&str>,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let mut plain = params.clone();
        for key in ["expires_at", "issued_at", "scope", "token_type"] {
            plain.remove(key);
        }
        if let Some(expires_in) = grant.expires_in {
            plain.insert("issued_at".into(), json!(self.clock.unix()));
            plain.insert(
                "expires_at".into(),
                json!(
                    self.clock.unix() + i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2)
                ),
            );
        }
        if let Some(scopes) = &grant.scopes {
            plain.insert("scope".into(), Value::String(scopes.join(" ")));
        }
        plain.insert("token_type".into(), Value::String(grant.token_type.clone()));
        let mut secrets = Map::new();
        secrets.insert(
            "access_token".into(),
            Value::String(grant.access_token.expose_secret().to_string()),
        );
        match (&grant.refresh_token, old_refresh) {
            (Some(rt), _) => {
                secrets.insert(
                    "refresh_token".into(),
                    Value::String(rt.expose_secret().to_string()),
                );
            }
            (None, Some(old)) => {
                secrets.insert("refresh_token".into(), Value::String(old.to_string()));
            }
            (None, None) => {}
        }
        (plain, secrets)
    }

    /// Commits new tokens (and the status) in one transaction, before anyone uses them.
    fn store_grant(
        &self,
        connection: &Connection,
        grant: &Grant,
        old_refresh: Option<&str>,
        status: ConnectionStatus,
    ) -> Result<()> {
        let (plain, secrets) = self.token_material(&connection.params, grant, old_refresh);
        let secret_keys: Vec<String> = secrets.keys().cloned().collect();
        let sealed = self.seal_map("connections", &connection.id.to_string(), &secrets)?;
        let now = self.clock.stamp();
        self.store.write(|tx| {
            let current = connections::get(tx, connection.id)?
                .ok_or_else(|| Error::not_found("connected account", connection.id.to_string()))?;
            current.status.check(status)?;
            connections::update_secrets(
                tx,
                connection.id,
                &SecretUpdate {
                    status,
                    status_reason: None,
                    params: &plain,
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    now: &now,
                },
            )?;
            Ok(())
        })
    }

    fn flight(&self, id: ConnectionId) -> Arc<Mutex<()>> {
        lock(&self.oauth.flights).entry(id).or_default().clone()
    }

    /// A valid access token for an OAUTH2 connection, refreshing when it expires within a
    /// minute — or, with `force` (the provider just answered 401 to `seen`), refreshing
    /// unless another caller already did.
    pub(crate) fn oauth2_access_token(
        &self,
        connection: &Connection,
        integration: &Integration,
        credentials: &Credentials,
        force: Option<&str>,
    ) -> Result<String> {
        let now = self.clock.unix();
        let fresh = |params: &Map<String, Value>, token: Option<&str>, _: Option<&str>| -> bool {
            if token.is_none() {
                return false;
            }
            match params.get("expires_at").and_then(Value::as_i64) {
                Some(at) => at - now > refresh_margin(params),
                None => true,
            }
        };
        let token = credentials
            .connection
            .get("access_token")
            .and_then(Value::as_str);
        if force.is_none() && fresh(&connection.params, token, None) {
            return token
                .map(str::to_string)
                .ok_or_else(|| Error::Internal("token vanished".into()));
        }

        // One refresher per connection; the others wait here and then read its result.
        // A caller that waited here while another refreshed sees a different token than
        // the one it started with, and takes that one.
        let seen = force.or(token);
        let flight = self.flight(connection.id);
        let _turn = lock(&flight);
        let current = self
            .store
            .read(|db| connections::get(db, connection.id))?
            .ok_or_else(|| Error::not_found("connected account", connection.id.to_string()))?;
        if !current.status.usable() {
            return Err(Error::Conflict(format!(
                "connected account {} is {}{}; reconnect it",
                current.id,
                current.status,
                current
                    .status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )));
        }
        let secrets = self.connection_secrets(current.id)?;
        let token = secrets.get("access_token").and_then(Value::as_str);
        if token.is_some() && token != seen
            || (force.is_none() && fresh(&current.params, token, None))
        {
            return token
                .map(str::to_string)
                .ok_or_else(|| Error::Internal("token vanished".into()));
        }
        let still_valid = token.filter(|_| {
            current
                .params
                .get("expires_at")
                .and_then(Value::as_i64)
                .is_none_or(|at| at > now)
        });

        if let Some((until, _)) = lock(&self.oauth.backoff).get(&current.id).copied()
            && Instant::now() < until
        {
            return match still_valid {
                Some(t) if force.is_none() => Ok(t.to_string()),
                _ => Err(Error::Upstream(format!(
                    "refreshing the token failed recently; keyport retries in {} s",
                    until
                        .saturating_duration_since(Instant::now())
                        .as_secs()
                        .max(1)
                ))),
            };
        }

        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| unknown_app(&integration.app_key))?;
        let config = self.oauth_config(app, integration, &credentials.integration, &current)?;
        let refresh_token = secrets.get("refresh_token").and_then(Value::as_str);
        let result = if Self::uses_client_credentials(integration) {
            oauth::client_credentials(&self.oauth.net, &config)
        } else if let Some(rt) = refresh_token {
            oauth::refresh(
                &self.oauth.net,
                &config,
                &SecretString::from(rt.to_string()),
            )
        } else {
            if let Some(t) = still_valid.filter(|_| force.is_none()) {
                return Ok(t.to_string());
            }
            let reason = "the access token expired and the provider gave no refresh token";
            self.transition(current.id, ConnectionStatus::Expired, Some(reason))?;
            self.notify_change();
            return Err(Error::Conflict(format!(
                "connected account {} is EXPIRED ({reason}); reconnect it",
                current.id
            )));
        };
        match result {
            Ok(grant) => {
                self.store_grant(&current, &grant, refresh_token, ConnectionStatus::Active)?;
                lock(&self.oauth.backoff).remove(&current.id);
                Ok(grant.access_token.expose_secret().to_string())
            }
            Err(e) if e.is_invalid_grant() => {
                let reason = format!("the provider refused the refresh token: {e}");
                self.transition(current.id, ConnectionStatus::Expired, Some(&reason))?;
                self.notify_change();
                Err(Error::Conflict(format!(
                    "connected account {} is EXPIRED ({reason}); reconnect it",
                    current.id
                )))
            }
            Err(e) => {
                let mut backoff = lock(&self.oauth.backoff);
                let next = backoff
                    .get(&current.id)
                    .map(|(_, d)| (*d * 2).min(BACKOFF_MAX))
                    .unwrap_or(BACKOFF_START);
                backoff.insert(current.id, (Instant::now() + next, next));
                tracing::warn!(connection = %current.id, error = %e, backoff_s = next.as_secs(), "token refresh failed");
                match still_valid {
                    Some(t) if force.is_none() && !matches!(e, OAuthError::Refused { .. }) => {
                        Ok(t.to_string())
                    }
                    _ => Err(Error::Upstream(format!("refreshing the token failed: {e}"))),
                }
            }
        }
    }

    /// Best-effort RFC 7009 revocation before a delete; the delete happens regardless.
    pub(crate) fn revoke_oauth2(&self, connection: &Connection, integration: &Integration) {
        let Some(app) = self.catalog.get(&integration.app_key) else {
            return;
        };
        let Ok(credentials) = self.open_credentials(connection, integration) else {
            return;
        };
        let Ok(config) = self.oauth_config(app, integration, &credentials.integration, connection)
        else {
            return;
        };
        if config.revocation_url.is_none() {
            return;
        }
        let secret = |k: &str| {
            credentials
                .connection
                .get(k)
                .and_then(Value::as_str)
                .map(|s| SecretString::from(s.to_string()))
        };
        match oauth::revoke(
            &self.oauth.net,
            &config,
            secret("refresh_token").as_ref(),
            secret("access_token").as_ref(),
        ) {
            Ok(()) => tracing::info!(connection = %connection.id, "tokens revoked at the provider"),
            Err(e) => {
                tracing::warn!(connection = %connection.id, error = %e, "revocation at the provider failed; deleted locally anyway")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() -> Result<()> {
        let a = random_token()?;
        let b = random_token()?;
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits, base64url");
        assert_eq!(hash(&a).len(), 32);
        assert_ne!(hash(&a), hash(&b));
        Ok(())
    }

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
}
