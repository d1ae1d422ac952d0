//! The one service every surface calls: the HTTP API, the Composio-compatible routes, the
//! browser pages and the CLI (through the API). It owns the business rules — validation
//! against the provider catalog, status transitions, sealing and redaction, who may see
//! what — and is synchronous on purpose: handlers run it on the blocking pool, or inline
//! on their worker when it needs no I/O (`crate::inline`: a credential read whose rows are
//! in the row cache). The one exception is the wait on a provider (the proxy and named
//! actions, `acting.rs`): those two facade methods are async, prepare the request inline or on the
//! blocking pool and wait on the worker's async client, so no thread is held while a
//! provider answers (`proxy/call.rs`).
//!
//! [`Service`] is a thin facade. The work is done by sub-services over one shared context
//! ([`ctx::Ctx`]: store, vault, catalog, clock, outbound client, actions), each a small
//! struct with its own file and API, built on demand from the facade's state:
//!
//! | sub-service | file | what it owns |
//! |---|---|---|
//! | `Integrations` | `integrations.rs` | integration CRUD, validation against the catalog |
//! | `Connections` | `connections.rs`, `connections/` | connection CRUD, reads, reveal, checks on demand |
//! | `Tokens` | `tokens.rs` | the one token lifecycle (single flight, back-off, commit) |
//! | `Flows` | `flows/` | browser flows: initiate, connect page, callback |
//! | `Access` | `access.rs` | a usable connection's fresh credential to inject |
//! | `Checks` | `checks.rs` | who-am-I checks of static credentials |
//! | `Proxy` | `proxy.rs`, `proxy/` | the credential-injecting proxy and named actions |
//! | `KeepAlive` | `keepalive.rs` | refreshing idle grants before their refresh tokens lapse |
//! | `Apps` | `apps.rs` | catalog and action reads |
//! | `Keys` | `keys.rs` | API keys |
//!
//! They depend on each other in one direction only (keys, apps, integrations, tokens →
//! flows, access, checks → connections → proxy → keep-alive, which runs on the blocking
//! pool as the proxy does), never back.

mod access;
mod acting;
mod approvals;
mod apps;
mod audit;
mod caller;
mod checks;
mod connections;
mod ctx;
pub mod error;
mod events;
mod flows;
mod integrations;
mod keepalive;
mod keys;
mod proxy;
mod remote_mcp;
mod tokens;

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, PoisonError, RwLock};

use secrecy::SecretString;

pub use crate::audit::record::Record as AuditRecord;
pub use crate::audit::verify::Verdict as AuditVerdict;
pub use access::Prepared;
pub use approvals::{PageLink, PendingRequest};
pub use apps::ActionView;
pub use audit::{AuditPage, AuditQuery, MAX_PAGE as MAX_AUDIT_PAGE};
pub use caller::{Act, Caller};
pub use checks::CheckOutcome;
pub use connections::{
    AuthParams, ConnectionPage, ConnectionPatch, ConnectionView, CreateConnection, EntitySummary,
    LinkedConnection, ListConnections, RevealedCredential,
};
pub(crate) use ctx::open_sealed;
pub use error::{Error, Result};
pub use events::{EventFeed, StatusEvent};
pub use flows::{CallbackOutcome, CallbackQuery, ConnectPage, CreatedConnection};
pub use integrations::{
    CONNECTION_DEFAULTS, CreateIntegration, FindIntegrations, IntegrationView, UpdateIntegration,
};
pub use keepalive::KeepAliveSettings;
pub use keys::{CreateKey, CreatedKey, KeyRing};
pub use proxy::{
    ActionOutcome, ExecuteAction, ParamIn, ProxyRequest, ProxyResponse, Target, resolve_endpoint,
};
pub use remote_mcp::{
    AddServer, AddedServer, Enrolment, MCP_APP, ServerToken, TokenAsk, fingerprint,
};

// The vocabulary the service's callers read its answers in: domain values, ids and the
// catalog entries it hands out, so surfaces (http, cli) depend on the service alone.
pub use crate::actions::{Action, VERSION as ACTION_VERSION};
pub use crate::domain::api_key::{
    Access as ActionAccess, ApiKey, Approval, Permission, ProxyMethod, Restrictions,
};
pub use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
pub use crate::ids::EntityId;
pub use crate::providers::{App, FieldSpec, HttpMethod, SchemeDetails};
pub use crate::secret::REDACTED;
pub use crate::store::{ConnectionFilter, Order};

use crate::actions::Actions;
use crate::audit::record::Event;
use crate::audit::{AuditLog, Retention};
use crate::clock::Clock;
use crate::config::Config;
use crate::ids::{ApiKeyId, ConnectionId, IntegrationId};
use crate::net::{MAX_RESPONSE, Net};
use crate::providers::Catalog;
use crate::store::Store;
use crate::vault::Vault;
use access::Access;
use apps::Apps;
use connections::Connections;
use ctx::Ctx;
use flows::Flows;
use integrations::Integrations;
use keepalive::KeepAlive;
use keys::Keys;
use proxy::Proxy;
use tokens::{TokenState, Tokens};

pub struct Service {
    ctx: Ctx,
    /// The token lifecycle's client, single-flight table and back-off.
    tokens: TokenState,
    /// The active API keys, so authentication does no I/O (reloaded when another instance
    /// changes them).
    keys: Arc<RwLock<KeyRing>>,
    /// Set once the server is stopping: long-lived streams end.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.ctx.store)
            .field("public_url", &self.ctx.public_url)
            .finish_non_exhaustive()
    }
}

/// Construction, the shared parts, and the sub-services.
impl Service {
    pub fn new(
        store: Store,
        vault: Vault,
        catalog: Catalog,
        clock: Clock,
        public_url: String,
        config: &Config,
    ) -> Result<Self> {
        let keys = Arc::new(RwLock::new(KeyRing::load(&store)?));
        let ring = Arc::clone(&keys);
        store.watch(Box::new(move |db| {
            let fresh = KeyRing::read(db)?;
            *ring.write().unwrap_or_else(PoisonError::into_inner) = fresh;
            Ok(())
        }))?;
        let actions = Actions::builtin(&catalog)?;
        let flow_deadline = store
            .read(crate::store::flows::next_expiry)?
            .unwrap_or(i64::MAX);
        let audit = match config.audit_days {
            Some(days) => AuditLog::start(
                &store,
                &vault,
                clock.clone(),
                Retention {
                    days,
                    ..Retention::default()
                },
            )?,
            None => AuditLog::off(),
        };
        let events = events::EventLog::new(clock.unix_ms());
        let ctx = Ctx {
            approvals: approvals::Approvals::default(),
            approval_timeout: config.approval_timeout,
            audit,
            store,
            vault,
            catalog,
            clock,
            public_url,
            net: Net::new(config.upstream_timeout, MAX_RESPONSE),
            actions,
            changes: tokio::sync::watch::channel(0).0,
            events,
            flow_deadline: AtomicI64::new(flow_deadline),
        };
        Ok(Service {
            ctx,
            tokens: TokenState::new(config.token_timeout),
            keys,
            stopping: tokio::sync::watch::channel(false).0,
        })
    }

    /// The service with `actions` (the built-in and user actions of [`Actions::load`])
    /// instead of the built-in ones alone.
    pub fn with_actions(mut self, actions: Actions) -> Self {
        self.ctx.actions = actions;
        self
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    pub fn vault(&self) -> &Vault {
        &self.ctx.vault
    }

    pub fn catalog(&self) -> &Catalog {
        &self.ctx.catalog
    }

    pub fn clock(&self) -> &Clock {
        &self.ctx.clock
    }

    pub fn public_url(&self) -> &str {
        &self.ctx.public_url
    }

    /// The redirect URI an OAuth app for `app_key` registers with its provider.
    pub fn callback_url(&self, app_key: &str) -> String {
        self.ctx.callback_url(app_key)
    }

    /// The blocking client for provider APIs (who-am-I checks); its policy is also the
    /// async client's that the proxy and named actions use (one per worker, built in
    /// `http::serve`).
    pub fn net(&self) -> &Net {
        &self.ctx.net
    }

    pub fn actions(&self) -> &Actions {
        &self.ctx.actions
    }

    /// A receiver that wakes whenever a connection's status changes.
    pub fn status_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ctx.status_changes()
    }

    fn tokens(&self) -> Tokens<'_> {
        Tokens::new(&self.ctx, &self.tokens)
    }

    fn integrations(&self) -> Integrations<'_> {
        Integrations::new(&self.ctx)
    }

    fn connections(&self) -> Connections<'_> {
        Connections::new(&self.ctx, self.tokens())
    }

    fn flows(&self) -> Flows<'_> {
        Flows::new(&self.ctx, self.tokens())
    }

    fn proxies(&self) -> Proxy<'_> {
        Proxy::new(&self.ctx, self.tokens())
    }

    fn apps(&self) -> Apps<'_> {
        Apps::new(&self.ctx)
    }

    fn keys(&self) -> Keys<'_> {
        Keys::new(&self.ctx, &self.keys)
    }

    fn keep_alive_pass(&self, settings: KeepAliveSettings) -> KeepAlive<'_> {
        KeepAlive::new(&self.ctx, self.tokens(), settings)
    }
}

/// Connection status events.
impl Service {
    /// The status events `caller` may see after `after` (all the ring still holds for
    /// `None`), then each new one.
    pub fn events(&self, caller: &Caller, after: Option<u64>) -> EventFeed {
        EventFeed::new(&self.ctx.events, Some(caller.clone()), after)
    }

    /// Every status event from now on, for the server's own readers (webhooks).
    pub fn all_events(&self) -> EventFeed {
        EventFeed::new(&self.ctx.events, None, None)
    }

    /// Ends the long-lived streams (events, MCP sessions' streams) and refuses the requests
    /// held for approval (audited): the server is stopping.
    pub fn stop_streams(&self) {
        self.stopping.send_replace(true);
        self.refuse_approvals();
    }

    /// A receiver that turns `true` when the server starts stopping.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Refuses new token exchanges and waits, at most `limit`, for those under way (a
    /// refresh, a code exchange) to commit: for a stopping server. How many are still
    /// running when it returns.
    pub fn finish_exchanges(&self, limit: std::time::Duration) -> usize {
        self.tokens.finish_exchanges(limit)
    }

    /// The feed's next event, waiting for it.
    pub async fn next_event(&self, feed: &mut EventFeed) -> Option<std::sync::Arc<StatusEvent>> {
        feed.next(&self.ctx.events).await
    }

    /// [`Service::next_event`] for a thread outside the async runtime.
    pub fn next_event_blocking(&self, feed: &mut EventFeed) -> Option<std::sync::Arc<StatusEvent>> {
        feed.next_blocking(&self.ctx.events)
    }
}

/// API keys.
impl Service {
    /// Resolves a presented key to its caller, or `Unauthorized`.
    pub fn authenticate(&self, presented: &str) -> Result<Caller> {
        let caller = self.keys().authenticate(presented);
        if let Err(e) = &caller {
            // Nothing of the presented value is recorded: it may be a secret of another kind.
            let entry = audit::entry(&self.ctx, Event::Refused, None);
            self.ctx.audit.record(audit::failed(entry, e));
        }
        caller
    }

    /// Records a request the service refused for `caller` (a permission or restriction),
    /// with the request line it came on: the surfaces call this with each 403 they answer.
    pub fn audit_refused(&self, caller: &Caller, line: (&str, &str), error: &Error) {
        let mut entry = audit::entry(&self.ctx, Event::Refused, Some(caller));
        entry.method = Some(line.0.to_owned());
        entry.path = Some(crate::audit::record::path_only(line.1));
        entry.entity = caller.entity.as_ref().map(|e| e.as_str().to_owned());
        self.ctx.audit.record(audit::failed(entry, error));
    }

    /// Whether the caller's key is still active: for what outlives one request (an MCP
    /// session's event stream).
    pub fn still_admits(&self, caller: &Caller) -> bool {
        self.keys().is_active(caller.key_id)
    }

    pub fn create_key(&self, caller: &Caller, req: CreateKey) -> Result<CreatedKey> {
        let created = self.keys().create(caller, req)?;
        let mut entry = audit::entry(&self.ctx, Event::KeyCreated, Some(caller));
        entry.detail = Some(audit::key_detail(&created.record));
        entry.entity = created
            .record
            .entity
            .as_ref()
            .map(|e| e.as_str().to_owned());
        self.ctx.audit.record(entry);
        Ok(created)
    }

    pub fn list_keys(&self, caller: &Caller) -> Result<Vec<ApiKey>> {
        self.keys().list(caller)
    }

    pub fn revoke_key(&self, caller: &Caller, id: ApiKeyId) -> Result<ApiKey> {
        let revoked = self.keys().revoke(caller, id)?;
        let mut entry = audit::entry(&self.ctx, Event::KeyRevoked, Some(caller));
        entry.detail = Some(audit::key_detail(&revoked));
        entry.entity = revoked.entity.as_ref().map(|e| e.as_str().to_owned());
        self.ctx.audit.record(entry);
        Ok(revoked)
    }

    /// Revokes every non-admin key at once (`all` must be true); returns how many.
    pub fn revoke_all_keys(&self, caller: &Caller, all: bool) -> Result<usize> {
        self.keys().revoke_all(caller, all)
    }

    /// A new admin key to write when `existing` is missing or no longer valid.
    pub fn ensure_admin_key(&self, existing: Option<&str>) -> Result<Option<SecretString>> {
        self.keys().ensure_admin(existing)
    }
}

/// The audit log (admin keys).
impl Service {
    pub fn list_audit(&self, caller: &Caller, query: &AuditQuery, limit: u32) -> Result<AuditPage> {
        audit::Audit::new(&self.ctx).list(caller, query, limit)
    }

    /// Walks the whole chain; names the first record that does not verify.
    pub fn verify_audit(&self, caller: &Caller) -> Result<AuditVerdict> {
        audit::Audit::new(&self.ctx).verify(caller)
    }

    /// Writes every queued record (clean shutdown).
    pub fn flush_audit(&self) {
        self.ctx.audit.sync(std::time::Duration::from_secs(10));
    }
}

/// The catalog and the named actions.
impl Service {
    pub fn list_apps(
        &self,
        caller: &Caller,
        search: Option<&str>,
        category: Option<&str>,
    ) -> Vec<&App> {
        self.apps().list(caller, search, category)
    }

    pub fn get_app(&self, caller: &Caller, key: &str) -> Result<&App> {
        self.apps().get(caller, key)
    }

    pub fn list_action_views(
        &self,
        caller: &Caller,
        apps: &[String],
        limit: Option<usize>,
    ) -> Result<Vec<ActionView<'_>>> {
        self.apps().action_views(caller, apps, limit)
    }

    pub fn get_action_view(&self, caller: &Caller, name: &str) -> Result<ActionView<'_>> {
        self.apps().action_view_of(caller, name)
    }
}

/// Integrations.
impl Service {
    pub fn create_integration(
        &self,
        caller: &Caller,
        req: CreateIntegration,
    ) -> Result<IntegrationView> {
        self.integrations().create(caller, req)
    }

    pub fn get_integration(&self, caller: &Caller, id: IntegrationId) -> Result<IntegrationView> {
        self.integrations().get(caller, id)
    }

    /// Integrations of some apps, by part of their name or id.
    pub fn find_integrations(
        &self,
        caller: &Caller,
        query: FindIntegrations,
    ) -> Result<Vec<IntegrationView>> {
        self.integrations().find(caller, query)
    }

    /// How many ACTIVE connections each integration has (the caller's own only, for a key
    /// restricted to an entity).
    pub fn active_connection_counts(&self, caller: &Caller) -> Result<Vec<(IntegrationId, u64)>> {
        self.connections().active_counts(caller)
    }

    pub fn update_integration(
        &self,
        caller: &Caller,
        id: IntegrationId,
        req: UpdateIntegration,
    ) -> Result<IntegrationView> {
        self.integrations().update(caller, id, req)
    }

    /// Deletes an integration and every connection made through it.
    pub fn delete_integration(&self, caller: &Caller, id: IntegrationId) -> Result<usize> {
        self.integrations().delete(caller, id, &self.tokens())
    }
}

/// Connections and their browser flows.
impl Service {
    pub fn create_connection(
        &self,
        caller: &Caller,
        req: CreateConnection,
    ) -> Result<CreatedConnection> {
        self.connections().create(caller, req)
    }

    /// Starts a browser-completed connection and hands out its connect link with the
    /// link's expiry (OAuth schemes only).
    pub fn link_connection(
        &self,
        caller: &Caller,
        req: CreateConnection,
    ) -> Result<LinkedConnection> {
        self.connections().link(caller, req)
    }

    pub fn get_connection(&self, caller: &Caller, id: ConnectionId) -> Result<ConnectionView> {
        self.connections().get(caller, id)
    }

    pub fn list_connections(
        &self,
        caller: &Caller,
        req: ListConnections,
    ) -> Result<ConnectionPage> {
        self.connections().list(caller, req)
    }

    pub fn set_connection_enabled(
        &self,
        caller: &Caller,
        id: ConnectionId,
        enabled: bool,
    ) -> Result<ConnectionView> {
        self.connections().set_enabled(caller, id, enabled)
    }

    /// A connection's labels, and whether it is its entity's default for its app.
    pub fn update_connection(
        &self,
        caller: &Caller,
        id: ConnectionId,
        patch: ConnectionPatch,
    ) -> Result<ConnectionView> {
        self.connections().update(caller, id, patch)
    }

    /// A new browser flow for an OAuth connection, keeping its id; the connection stays as
    /// it is until the flow succeeds.
    pub fn reconnect_connection(
        &self,
        caller: &Caller,
        id: ConnectionId,
        redirect_after: Option<&str>,
    ) -> Result<CreatedConnection> {
        self.connections().reconnect(caller, id, redirect_after)
    }

    pub fn delete_connection(&self, caller: &Caller, id: ConnectionId) -> Result<()> {
        self.connections().delete(caller, id)
    }

    /// The live credential of an ACTIVE connection (`reveal` keys only).
    pub fn reveal_connection(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<RevealedCredential> {
        let mut entry = audit::entry(&self.ctx, Event::CredentialsRead, Some(caller));
        entry.connection = Some(id.to_string());
        let revealed = self.connections().reveal(caller, id);
        self.ctx.audit.record(match &revealed {
            Ok(r) => audit::about(entry, &r.connection),
            Err(e) => audit::failed(entry, e),
        });
        revealed
    }

    /// Checks a connection's credential against the app's who-am-I endpoint now.
    pub fn test_connection(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<(ConnectionView, CheckOutcome)> {
        self.connections().test(caller, id)
    }

    pub fn list_entities(&self, caller: &Caller) -> Result<Vec<EntitySummary>> {
        self.connections().entities(caller)
    }

    /// The connect page for a link handed out when a flow started.
    pub fn connect_page(&self, token: &str) -> std::result::Result<ConnectPage, CallbackOutcome> {
        self.flows().connect_page(token)
    }

    /// Completes (or fails) a browser flow.
    pub fn oauth_callback(&self, app_key: &str, query: CallbackQuery) -> CallbackOutcome {
        self.flows().callback(app_key, query)
    }
}

/// Keeping idle grants alive.
impl Service {
    /// Runs keep-alive on the current runtime until `stop` is set or the runtime ends:
    /// OAuth grants refreshed at half the life of their refresh tokens (`keepalive.rs`).
    pub async fn keep_alive(
        self: Arc<Self>,
        settings: KeepAliveSettings,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) {
        keepalive::run(self, settings, stop).await;
    }
}

/// Acting for an entity.
impl Service {
    /// A usable connection the caller may act through (for `act`), with a fresh
    /// credential to inject.
    pub fn prepare(&self, caller: &Caller, id: ConnectionId, act: Act<'_>) -> Result<Prepared> {
        Access::new(&self.ctx, self.tokens()).prepare(caller, id, act)
    }
}
