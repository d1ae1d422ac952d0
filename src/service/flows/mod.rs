//! Browser flows, for OAuth 2.0 and OAuth 1.0a alike: a connection starts INITIATED with a
//! pending flow (the hash of what the provider will echo back — OAuth 2.0 `state` or the
//! OAuth 1.0a temporary `oauth_token` — and, sealed, the authorization URL with the PKCE
//! verifier or the temporary credentials' secret), the user passes through keyport's
//! connect page to the provider, and the loopback callback ([`callback`]) completes it
//! once. An OAuth 2.0 client-credentials integration needs no browser: its connection is
//! ACTIVE at once with a machine token.
//!
//! Links and states are 256-bit random values stored only as SHA-256 hashes; a flow lives
//! [`FLOW_TTL_SECS`] and is swept to FAILED on read after that.

mod callback;

use std::sync::atomic::Ordering::SeqCst;

use secrecy::ExposeSecret;
use serde_json::{Map, Value};

pub use callback::{CallbackOutcome, CallbackQuery};

use super::ctx::{Ctx, check_url, random_token, token_hash};
use super::events::Subject;
use super::tokens::Tokens;
use crate::auth::oauth1::{self, OAuth1};
use crate::auth::oauth2::OAuth2;
use crate::auth::{self, Credentials, Fields, Issuer, RenewError};
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId};
use crate::secret::SecretFields;
use crate::service::error::{Error, Result};
use crate::store::{NewConnection, connections, flows};

/// How long a started authorization stays usable.
pub const FLOW_TTL_SECS: i64 = 600;

/// The sealed-values table of pending flows.
const FLOWS: &str = "oauth_flows";

/// A connection about to be created for an entity.
#[derive(Clone, Copy)]
pub(crate) struct Start<'a> {
    pub integration: &'a Integration,
    pub entity: &'a EntityId,
    pub labels: &'a [String],
    pub params: &'a Map<String, Value>,
    /// Where to send the browser once the flow completes.
    pub redirect_after: Option<&'a str>,
    /// Re-authorizes this existing connection instead of creating one (`reconnect`).
    pub reconnect: Option<ConnectionId>,
}

impl<'a> Start<'a> {
    /// Who the connection `id` this start creates is, for its status events.
    pub fn subject(&self, id: ConnectionId) -> Subject<'a> {
        Subject {
            id,
            entity_id: self.entity,
            integration_id: self.integration.id,
            app_key: &self.integration.app_key,
        }
    }

    /// The connection row this start creates, without secrets.
    pub fn row(
        &self,
        id: ConnectionId,
        status: ConnectionStatus,
        now: &'a str,
    ) -> NewConnection<'a> {
        NewConnection {
            id,
            integration_id: self.integration.id,
            entity_id: self.entity,
            app_key: &self.integration.app_key,
            status,
            status_reason: None,
            labels: self.labels,
            params: self.params,
            secret_keys: &[],
            secrets: None,
            now,
        }
    }
}

/// A browser flow about to start: the INITIATED connection and what the callback needs.
struct PendingFlow<'a> {
    start: Start<'a>,
    /// The value the provider echoes back; stored only as a hash.
    state_key: &'a str,
    /// Sealed with the flow: `authorize_url`, and `pkce_verifier` or the temporary
    /// credentials (`oauth_token`, `oauth_token_secret`).
    secrets: SecretFields,
    expected_issuer: Option<&'a str>,
}

/// A connection just created: ACTIVE, or INITIATED with the link that completes it.
#[derive(Debug, Clone)]
pub struct CreatedConnection {
    pub id: ConnectionId,
    pub status: ConnectionStatus,
    /// Its integration's scheme.
    pub auth_scheme: AuthScheme,
    pub redirect_url: Option<String>,
}

/// The browser flows over the shared context and the token lifecycle.
#[derive(Clone, Copy)]
pub(crate) struct Flows<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

/// What the connect page shows before sending the browser to the provider.
#[derive(Debug)]
pub struct ConnectPage {
    pub app_name: String,
    pub entity: String,
    pub scopes: Vec<String>,
    pub authorize_url: String,
}

impl<'a> Flows<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        Flows { ctx, tokens }
    }

    /// Starts a connection that completes in the user's browser (or, for an OAuth 2.0
    /// client-credentials integration, at once); `None` for schemes that need neither.
    pub fn initiate(&self, start: Start<'_>) -> Result<Option<CreatedConnection>> {
        if !auth::traits(start.integration.auth_scheme).browser {
            return Ok(None);
        }
        let config_secrets = self.ctx.integration_fields(start.integration)?;
        let draft = SecretFields::default();
        let credentials = self.ctx.credentials(
            start.integration,
            &config_secrets,
            Fields::new(start.params, &draft),
        )?;
        match credentials {
            Credentials::OAuth2(oauth2) => self.initiate_oauth2(&oauth2, start).map(Some),
            Credentials::OAuth1(oauth1) => self.initiate_oauth1(&oauth1, start).map(Some),
            _ => Ok(None),
        }
    }

    /// Starts a new browser flow for an existing connection (same id): while it runs the
    /// connection stays as it is; success replaces its credentials (and revokes the old
    /// ones at the provider), failure changes nothing. For OAuth connections that are not
    /// still connecting.
    pub fn reconnect(
        &self,
        connection: &Connection,
        integration: &Integration,
        redirect_after: Option<&str>,
    ) -> Result<CreatedConnection> {
        use ConnectionStatus::*;
        match connection.status {
            Active | Inactive | Expired | Failed => {}
            Initiated => {
                return Err(Error::Conflict(format!(
                    "connected account {} is still connecting: finish its link, or wait 10 minutes for it to lapse",
                    connection.id
                )));
            }
            Deleted => {
                return Err(Error::not_found(
                    "connected account",
                    connection.id.to_string(),
                ));
            }
        }
        let start = Start {
            integration,
            entity: &connection.entity_id,
            labels: &connection.labels,
            params: &connection.params,
            redirect_after,
            reconnect: Some(connection.id),
        };
        self.initiate(start)?.ok_or_else(|| {
            Error::invalid(format!(
                "{} connections are not authorized in a browser; reconnect is for OAuth connections \
                 (a {} connection gets new credentials by being connected again)",
                integration.auth_scheme, integration.auth_scheme
            ))
        })
    }

    fn initiate_oauth2(&self, oauth2: &OAuth2, start: Start<'_>) -> Result<CreatedConnection> {
        oauth2.config()?;
        if oauth2.uses_client_credentials() {
            if start.reconnect.is_some() {
                return Err(Error::invalid(
                    "a client-credentials connection is authorized by keyport itself, not in a \
                     browser: it gets a new token on its next use",
                ));
            }
            return self.connect_machine(oauth2, start);
        }
        if let Some(url) = start.redirect_after {
            self.check_redirect_after(start.integration, url)?;
        }
        let state = random_token()?;
        let authorization = oauth2.authorization(state.expose_secret())?;
        let mut secrets = SecretFields::default();
        secrets.set("authorize_url", &authorization.url);
        if let Some(verifier) = &authorization.pkce_verifier {
            secrets.set("pkce_verifier", verifier.expose_secret());
        }
        self.start_flow(PendingFlow {
            start,
            state_key: state.expose_secret(),
            secrets,
            expected_issuer: oauth2.expected_issuer(),
        })
    }

    /// A client-credentials connection: ACTIVE at once with a machine token.
    fn connect_machine(&self, oauth2: &OAuth2, start: Start<'_>) -> Result<CreatedConnection> {
        let _under_way = self.tokens.exchange()?;
        let renewed = oauth2
            .renew(self.tokens.net(), self.ctx.clock.unix())
            .map_err(|e| match e {
                RenewError::Unusable(e) | RenewError::Transient(e) | RenewError::Refused(e) => {
                    Error::from(e)
                }
                RenewError::Dead(m) | RenewError::Exhausted(m) => Error::Upstream(m),
            })?;
        let mut params = start.params.clone();
        let mut secrets = SecretFields::default();
        renewed.store(&mut params, &mut secrets);
        let id = ConnectionId::new();
        let sealed = self
            .ctx
            .seal_fields("connections", &id.to_string(), &secrets)?;
        let now = self.ctx.clock.stamp();
        let keys = secrets.keys();
        let row = NewConnection {
            params: &params,
            secret_keys: &keys,
            secrets: sealed.as_deref(),
            ..start.row(id, ConnectionStatus::Active, &now)
        };
        self.ctx.store.write(|tx| connections::insert(tx, &row))?;
        self.ctx
            .transitioned(start.subject(id), None, ConnectionStatus::Active, None);
        Ok(CreatedConnection {
            id,
            status: ConnectionStatus::Active,
            auth_scheme: start.integration.auth_scheme,
            redirect_url: None,
        })
    }

    /// OAuth 1.0a: asks the provider for temporary credentials (announcing keyport's
    /// callback) before handing out the connect-page link.
    fn initiate_oauth1(&self, oauth1: &OAuth1, start: Start<'_>) -> Result<CreatedConnection> {
        if let Some(url) = start.redirect_after {
            self.check_redirect_after(start.integration, url)?;
        }
        let endpoints = oauth1.endpoints()?;
        let consumer = oauth1.consumer()?;
        let callback = self.ctx.callback_url(&start.integration.app_key);
        let temporary = oauth1::request_token(
            self.tokens.net(),
            endpoints,
            &consumer,
            &callback,
            self.ctx.clock.unix(),
        )?;
        let authorize_url = oauth1::authorize_url(endpoints, &temporary)?;
        let mut secrets = SecretFields::default();
        secrets.set("authorize_url", &authorize_url);
        secrets.set("oauth_token", &temporary.token);
        secrets.set("oauth_token_secret", temporary.token_secret.expose_secret());
        self.start_flow(PendingFlow {
            start,
            state_key: &temporary.token,
            secrets,
            expected_issuer: None,
        })
    }

    /// Stores an INITIATED connection and its pending flow in one transaction; returns the
    /// connect-page link.
    fn start_flow(&self, flow: PendingFlow<'_>) -> Result<CreatedConnection> {
        let PendingFlow {
            start,
            state_key,
            secrets,
            expected_issuer,
        } = flow;
        let id = start.reconnect.unwrap_or_default();
        let connect = random_token()?;
        let sealed = self
            .ctx
            .seal_fields(FLOWS, &id.to_string(), &secrets)?
            .ok_or_else(|| Error::Internal("empty flow".into()))?;
        let now = self.ctx.clock.stamp();
        let expires_at = self.ctx.clock.unix() + FLOW_TTL_SECS;
        self.ctx.store.write(|tx| {
            // A reconnect leaves the connection as it is until the flow succeeds.
            if start.reconnect.is_none() {
                connections::insert(tx, &start.row(id, ConnectionStatus::Initiated, &now))?;
            }
            flows::insert(
                tx,
                &flows::NewFlow {
                    connection_id: id,
                    state_hash: &token_hash(state_key),
                    connect_hash: &token_hash(connect.expose_secret()),
                    app_key: &start.integration.app_key,
                    secrets: &sealed,
                    redirect_after: start.redirect_after,
                    expected_issuer,
                    now: &now,
                    expires_at,
                },
            )?;
            self.ctx.flow_deadline.fetch_min(expires_at, SeqCst);
            Ok::<_, Error>(())
        })?;
        if start.reconnect.is_none() {
            self.ctx
                .transitioned(start.subject(id), None, ConnectionStatus::Initiated, None);
        }
        Ok(CreatedConnection {
            id,
            status: ConnectionStatus::Initiated,
            auth_scheme: start.integration.auth_scheme,
            redirect_url: Some(format!(
                "{}/connect/{}",
                self.ctx.public_url,
                connect.expose_secret()
            )),
        })
    }

    /// Where the browser may go after connecting: loopback, or the integration's allow-list.
    fn check_redirect_after(&self, integration: &Integration, url: &str) -> Result<()> {
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
    pub fn sweep(&self) -> Result<()> {
        let now_unix = self.ctx.clock.unix();
        // Flows expire strictly before `now_unix` (as `flows::expire` reads it).
        if self.ctx.flow_deadline.load(SeqCst) >= now_unix {
            return Ok(());
        }
        let now = self.ctx.clock.stamp();
        let failed = self.ctx.store.write(|tx| {
            let failed = flows::expire(tx, now_unix, &now)?;
            let next = flows::next_expiry(tx)?.unwrap_or(i64::MAX);
            self.ctx.flow_deadline.store(next, SeqCst);
            Ok::<_, Error>(failed)
        })?;
        for loaded in failed.iter().filter_map(|id| self.ctx.load(*id).ok()) {
            self.ctx.transitioned(
                (&loaded.connection).into(),
                Some(ConnectionStatus::Initiated),
                ConnectionStatus::Failed,
                Some(flows::EXPIRED_REASON),
            );
        }
        Ok(())
    }

    /// The connect page for a link handed out when the flow started.
    pub fn connect_page(&self, token: &str) -> std::result::Result<ConnectPage, CallbackOutcome> {
        let gone = || {
            CallbackOutcome::failed(
                "Link not valid",
                "This connect link is unknown or has expired. Start the connection again.",
            )
        };
        let flow = self
            .ctx
            .store
            .read(|db| flows::by_connect(db, &token_hash(token)))
            .map_err(|_| gone())?
            .ok_or_else(gone)?;
        if flow.used {
            return Err(CallbackOutcome::failed(
                "Already used",
                "This connect link was already used. Start the connection again if needed.",
            ));
        }
        if flow.expires_at < self.ctx.clock.unix() {
            let _ = self.sweep();
            return Err(gone());
        }
        let secrets = self
            .ctx
            .open_fields(FLOWS, &flow.connection_id.to_string(), Some(&flow.secrets))
            .map_err(|_| gone())?;
        let connection = self
            .ctx
            .store
            .read(|db| connections::get(db, flow.connection_id))
            .ok()
            .flatten()
            .ok_or_else(gone)?;
        let integration = self
            .ctx
            .load_integration(connection.integration_id)
            .map_err(|_| gone())?;
        let app_name = self
            .ctx
            .catalog
            .get(&flow.app_key)
            .map(|a| a.name.clone())
            .unwrap_or(flow.app_key.clone());
        Ok(ConnectPage {
            app_name,
            entity: connection.entity_id.as_str().to_string(),
            scopes: integration.scopes,
            authorize_url: secrets
                .text("authorize_url")
                .map(|u| u.expose_secret().to_string())
                .unwrap_or_default(),
        })
    }
}
