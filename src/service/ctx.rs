//! The context every sub-service shares: the store, the vault, the catalog, the clock, the
//! outbound client and the named actions, with the few rules they all rely on — sealing and
//! opening a row's secrets (AAD naming table, row and column), reading a connection with
//! its integration in one snapshot and typing its credentials by scheme, moving a
//! connection through its lifecycle (and waking whoever waits on it), looking an app up in
//! the catalog, which URLs keyport accepts, and how its bearer tokens (API keys, flow
//! states, connect links) are made and stored.
//!
//! It holds no per-area state and decides no area's rules: those are the sub-services'
//! (`integrations`, `connections`, `tokens`, `flows`, `access`, `proxy`, `keys`), each a
//! small struct over `&Ctx` with its own file and API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::caller::Caller;
use super::events::{EventLog, Subject};
use crate::actions::Actions;
use crate::audit::record::{Entry, Event};
use crate::auth::{Credentials, Fields, Stored};
use crate::clock::Clock;
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, IntegrationId};
use crate::net::Net;
use crate::providers::{App, Catalog, SchemeSpec, fields};
use crate::secret::SecretFields;
use crate::service::error::{Error, Result};
use crate::store::{Store, connections, integrations};
use crate::vault::{Aad, Vault};

pub(crate) struct Ctx {
    pub store: Store,
    pub vault: Vault,
    pub catalog: Catalog,
    pub clock: Clock,
    /// Where this server is reachable from the user's browser, e.g. `http://127.0.0.1:7790`.
    pub public_url: String,
    /// The one outbound client for provider APIs (proxy and actions), with the configured
    /// upstream timeout.
    pub net: Net,
    /// Named actions, loaded and checked against the catalog at construction.
    pub actions: Actions,
    /// Requests held for the user's approval, and how long each may wait.
    pub approvals: super::approvals::Approvals,
    pub approval_timeout: std::time::Duration,
    /// Where every credential use, lifecycle change and key event is recorded.
    pub audit: crate::audit::AuditLog,
    /// Wakes waiters whenever a connection's status changes.
    pub changes: tokio::sync::watch::Sender<u64>,
    /// Every status change, numbered (the event stream and webhooks read it).
    pub events: EventLog,
    /// When the earliest open browser flow expires (unix seconds; `i64::MAX` for none), so
    /// that reads learn there is nothing to expire without asking SQLite. Lowered inside
    /// the write that opens a flow, recomputed inside the write that expires flows: both
    /// under SQLite's write lock, so neither update is lost. It may be earlier than the
    /// truth (a flow completed since), never later; an early value costs one sweep.
    pub flow_deadline: std::sync::atomic::AtomicI64,
}

/// A connection with its integration and both sealed secret blobs, as one snapshot read
/// them.
pub(crate) struct Loaded {
    pub connection: Connection,
    pub integration: Integration,
    pub connection_secrets: Option<Vec<u8>>,
    pub integration_secrets: Option<Vec<u8>>,
}

/// "connected account X is EXPIRED (reason); reconnect it".
pub(crate) fn not_usable(connection: &Connection) -> Error {
    let next = match connection.status {
        ConnectionStatus::Inactive => "enable it to act through it again",
        ConnectionStatus::Initiated => "it is still connecting: finish its link first",
        _ => "reconnect it",
    };
    Error::Conflict(format!(
        "connected account {} is {}{}; {next}",
        connection.id,
        connection.status,
        connection
            .status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ))
}

/// A connection acts for its entity only while it is ACTIVE and its integration enabled.
pub(crate) fn check_may_act(connection: &Connection, integration: &Integration) -> Result<()> {
    if !connection.status.usable() {
        return Err(not_usable(connection));
    }
    if !integration.enabled {
        return Err(Error::Conflict(format!(
            "integration {} ({}) is disabled: its connections cannot act until it is enabled again",
            integration.id, integration.app_key
        )));
    }
    Ok(())
}

/// A fresh bearer token: 256 random bits, base64url without padding (43 characters). API
/// keys, flow states and connect links are made of one; only its [`token_hash`] is stored.
pub(crate) fn random_token() -> Result<SecretString> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| Error::Internal("system random failed".into()))?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

/// The SHA-256 of a presented token: what is stored and looked up in its place.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// Maps an app-catalog miss to the service's error.
pub(crate) fn unknown_app(key: &str) -> Error {
    Error::not_found("app", key)
}

/// https everywhere, plain http only to a loopback host.
pub(crate) fn check_url(field: &str, raw: &str) -> Result<()> {
    // `{variable}` templates are filled per connection; check the URL's shape around them.
    let mut shaped = String::with_capacity(raw.len());
    let mut in_var = false;
    for c in raw.chars() {
        match (c, in_var) {
            ('{', false) => in_var = true,
            ('}', true) => {
                in_var = false;
                shaped.push('x');
            }
            (_, true) => {}
            (c, false) => shaped.push(c),
        }
    }
    let parsed = url::Url::parse(&shaped)
        .map_err(|e| Error::invalid(format!("{field}: not a URL ({e})")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(Error::invalid(format!("{field}: the URL has no host"))),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Error::invalid(format!(
            "{field}: must be an https URL (http only for loopback hosts)"
        ))),
    }
}

fn aad<'a>(table: &'a str, row: &'a str) -> Aad<'a> {
    Aad {
        table,
        row,
        column: "secrets",
    }
}

/// Opens the sealed fields of `row` in `table` with `vault`: what [`Ctx::open_fields`] does,
/// shared with `keyport migrate`, which checks every blob of a copy opens.
pub(crate) fn open_sealed(
    vault: &Vault,
    table: &str,
    row: &str,
    blob: &[u8],
) -> Result<SecretFields> {
    let plaintext = vault.open(&aad(table, row), blob)?;
    Ok(serde_json::from_slice(&plaintext)?)
}

impl Ctx {
    pub fn notify_change(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes whenever a connection's status changes.
    pub fn status_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Seals a row's secret fields; `None` when there is nothing to seal.
    pub fn seal_fields(
        &self,
        table: &str,
        row: &str,
        fields: &SecretFields,
    ) -> Result<Option<Vec<u8>>> {
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.vault.seal(&aad(table, row), &fields.to_json()?)?))
    }

    /// Opens a row's sealed fields, every value typed as a secret.
    pub fn open_fields(&self, table: &str, row: &str, blob: Option<&[u8]>) -> Result<SecretFields> {
        let Some(blob) = blob else {
            return Ok(SecretFields::default());
        };
        open_sealed(&self.vault, table, row, blob)
    }

    /// Seals validated caller input; `None` when there is nothing to seal.
    pub fn seal_map(
        &self,
        table: &str,
        row: &str,
        map: &Map<String, Value>,
    ) -> Result<Option<Vec<u8>>> {
        if map.is_empty() {
            return Ok(None);
        }
        let plaintext = Zeroizing::new(serde_json::to_vec(map)?);
        Ok(Some(self.vault.seal(&aad(table, row), &plaintext)?))
    }

    /// Opens a sealed JSON object and reveals every value (for merging caller input).
    pub fn open_map(
        &self,
        table: &str,
        row: &str,
        blob: Option<&[u8]>,
    ) -> Result<Map<String, Value>> {
        Ok(self.open_fields(table, row, blob)?.reveal())
    }

    /// The app `key` names in the catalog.
    pub fn app(&self, key: &str) -> Result<&App> {
        self.catalog.get(key).ok_or_else(|| unknown_app(key))
    }

    /// An app by key, or by its catalog id.
    pub fn find_app(&self, key_or_id: &str) -> Result<&App> {
        if let Some(app) = self.catalog.get(key_or_id) {
            return Ok(app);
        }
        self.catalog
            .apps()
            .find(|app| {
                app.app_id()
                    .to_string()
                    .eq_ignore_ascii_case(key_or_id.trim())
            })
            .ok_or_else(|| unknown_app(key_or_id))
    }

    /// The app's catalog entry for `scheme`, or why the app cannot use it.
    pub fn scheme_of<'a>(&self, app: &'a App, scheme: AuthScheme) -> Result<&'a SchemeSpec> {
        app.scheme(scheme).ok_or_else(|| {
            let supported: Vec<&str> = app.schemes.iter().map(|s| s.mode.as_str()).collect();
            Error::invalid(format!(
                "authScheme: app {} does not support {scheme}; it supports {}",
                app.key,
                supported.join(", ")
            ))
        })
    }

    /// An integration as it stands, from the row cache when it holds it.
    pub fn load_integration(&self, id: IntegrationId) -> Result<Integration> {
        self.store
            .integration(id)?
            .map(|sealed| sealed.row.clone())
            .ok_or_else(|| Error::not_found("integration", id.to_string()))
    }

    /// A connection the caller may see; others' connections are "not found".
    pub fn load_connection(&self, caller: &Caller, id: ConnectionId) -> Result<Connection> {
        self.load_for(caller, id).map(|loaded| loaded.connection)
    }

    /// A connection, its integration and both sealed blobs as they stand: from the row
    /// cache when it holds them (no SQLite, so this may run inline on a worker), else
    /// from one read snapshot, which fills the cache.
    pub fn load(&self, id: ConnectionId) -> Result<Loaded> {
        Self::loaded(id, self.store.sealed(id)?)
    }

    /// [`Ctx::load`] from the database itself, never the cache: what a renewal decides on,
    /// since another instance may have renewed a moment ago.
    pub fn load_stored(&self, id: ConnectionId) -> Result<Loaded> {
        Self::loaded(id, self.store.sealed_stored(id)?)
    }

    fn loaded(id: ConnectionId, sealed: Option<crate::store::Sealed>) -> Result<Loaded> {
        let sealed = sealed.ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
        Ok(Loaded {
            connection: sealed.connection.row.clone(),
            integration: sealed.integration.row.clone(),
            connection_secrets: sealed.connection.secrets.clone(),
            integration_secrets: sealed.integration.secrets.clone(),
        })
    }

    /// [`Ctx::load`] for a connection the caller may see.
    pub fn load_for(&self, caller: &Caller, id: ConnectionId) -> Result<Loaded> {
        Some(self.load(id)?)
            .filter(|l| caller.may_act_for(&l.connection.entity_id).is_ok())
            .ok_or_else(|| Error::not_found("connected account", id.to_string()))
    }

    /// An integration's sealed settings, opened.
    pub fn integration_fields(&self, integration: &Integration) -> Result<SecretFields> {
        let blob = self
            .store
            .read(|db| integrations::secrets(db, integration.id))?;
        self.open_fields("integrations", &integration.id.to_string(), blob.as_deref())
    }

    /// Opens both sealed blobs of `loaded` and types them by the integration's scheme.
    pub fn open(&self, loaded: &Loaded) -> Result<Credentials> {
        let integration = &loaded.integration;
        let config_secrets = self.open_fields(
            "integrations",
            &integration.id.to_string(),
            loaded.integration_secrets.as_deref(),
        )?;
        let secrets = self.open_fields(
            "connections",
            &loaded.connection.id.to_string(),
            loaded.connection_secrets.as_deref(),
        )?;
        self.credentials(
            integration,
            &config_secrets,
            Fields::new(&loaded.connection.params, &secrets),
        )
    }

    /// The typed credentials of `integration` with a connection's (or a draft's) values.
    pub fn credentials(
        &self,
        integration: &Integration,
        config_secrets: &SecretFields,
        connection: Fields<'_>,
    ) -> Result<Credentials> {
        let app = self.app(&integration.app_key)?;
        Ok(Credentials::open(&Stored {
            scheme: integration.auth_scheme,
            spec: app.scheme(integration.auth_scheme).map(|s| &s.details),
            app_key: &integration.app_key,
            integration: Fields::new(&integration.config, config_secrets),
            scopes: &integration.scopes,
            connection,
            callback_url: &self.callback_url(&integration.app_key),
        }))
    }

    /// Fills `{variable}` templates in a URL from the connection's parameters.
    pub fn render_for(&self, template: &str, connection: &Connection) -> Result<String> {
        let mut vars: Map<String, Value> = Map::new();
        for (k, v) in &connection.params {
            if v.is_string() {
                vars.insert(k.clone(), v.clone());
            }
        }
        Ok(fields::render_template(template, &vars)?)
    }

    /// The app's default headers for a connection's requests, their `{client_id}` and
    /// `{variables}` filled from the integration and the connection (Twitch's
    /// `Client-Id`). Never a secret: the client id is plain, variables are parameters.
    pub fn app_headers(
        &self,
        integration: &Integration,
        connection: &Connection,
    ) -> Result<Vec<(String, String)>> {
        let app = self.app(&integration.app_key)?;
        let mut vars: Map<String, Value> = connection
            .params
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(id) = integration
            .config
            .get("client_id")
            .filter(|v| v.is_string())
        {
            vars.insert("client_id".into(), id.clone());
        }
        app.headers
            .iter()
            .map(|(name, template)| {
                let value = fields::render_template(template, &vars)
                    .map_err(|e| Error::invalid(format!("header {name}: {e}")))?;
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// The callback URL to register with the provider for `app_key` (RFC 8252 loopback).
    pub fn callback_url(&self, app_key: &str) -> String {
        format!("{}/callback/{app_key}", self.public_url)
    }

    /// Moves a connection to `to` if the lifecycle allows it, and wakes its waiters.
    pub fn transition(
        &self,
        id: ConnectionId,
        to: ConnectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.stamp();
        let before = self.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            current.status.check(to)?;
            connections::set_status(tx, id, to, reason, &now)?;
            Ok::<_, Error>(current)
        })?;
        self.transitioned((&before).into(), Some(before.status), to, reason);
        Ok(())
    }

    /// Records a status change just committed — the one place every change goes through:
    /// its log line, its event (stream and webhooks), and waking whoever waits on a
    /// change. Nothing for a refresh (ACTIVE → ACTIVE). `from` is `None` for a new
    /// connection.
    pub fn transitioned(
        &self,
        connection: Subject<'_>,
        from: Option<ConnectionStatus>,
        to: ConnectionStatus,
        reason: Option<&str>,
    ) {
        if from == Some(to) {
            return;
        }
        log_transition(connection.id, from, to, reason);
        self.audit
            .record(lifecycle_entry(self, &connection, from, to, reason));
        self.events
            .publish(connection, from, to, reason, self.clock.stamp());
        self.notify_change();
    }

    /// Records something that happened to a connection's tokens (refreshed, revoked at the
    /// provider), with its outcome.
    pub fn audit_tokens(&self, connection: &Connection, event: Event, outcome: &str) {
        let entry = super::audit::about(super::audit::entry(self, event, None), connection);
        self.audit.record(Entry {
            outcome: outcome.to_owned(),
            ..entry
        });
    }
}

/// The audit record of a status change: `connection.created` with its first status, or
/// `connection.status` with the new one and the reason.
fn lifecycle_entry(
    ctx: &Ctx,
    connection: &Subject<'_>,
    from: Option<ConnectionStatus>,
    to: ConnectionStatus,
    reason: Option<&str>,
) -> Entry {
    let event = if from.is_none() {
        Event::ConnectionCreated
    } else {
        Event::ConnectionStatus
    };
    let mut entry = super::audit::entry(ctx, event, None);
    entry.entity = Some(connection.entity_id.as_str().to_owned());
    entry.connection = Some(connection.id.to_string());
    entry.app = Some(connection.app_key.to_owned());
    entry.outcome = to.as_str().to_owned();
    entry.detail = match (from, reason) {
        (Some(from), Some(reason)) => Some(format!("from {from}: {reason}")),
        (Some(from), None) => Some(format!("from {from}")),
        (None, reason) => reason.map(str::to_owned),
    };
    entry
}

/// The one log line of a connection's status change: EXPIRED and FAILED at `warn` with the
/// reason, the others at `info`.
fn log_transition(
    id: ConnectionId,
    from: Option<ConnectionStatus>,
    to: ConnectionStatus,
    reason: Option<&str>,
) {
    let from = from.map_or("new", ConnectionStatus::as_str);
    let reason = reason.unwrap_or("");
    match to {
        ConnectionStatus::Expired | ConnectionStatus::Failed => {
            tracing::warn!(connection = %id, from = %from, to = %to, reason = %reason, "connection status changed");
        }
        _ => {
            tracing::info!(connection = %id, from = %from, to = %to, reason = %reason, "connection status changed")
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() -> Result<()> {
        let a = random_token()?;
        let b = random_token()?;
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43, "256 bits, base64url");
        assert_ne!(token_hash(a.expose_secret()), token_hash(b.expose_secret()));
        Ok(())
    }

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert!(check_url("token_url", "https://example.com/token").is_ok());
        assert!(check_url("token_url", "http://127.0.0.1:9000/token").is_ok());
        assert!(check_url("token_url", "http://[::1]:9000/token").is_ok());
        assert!(check_url("token_url", "http://localhost:9000/token").is_ok());
        assert!(check_url("token_url", "https://{subdomain}.zendesk.com/oauth/tokens").is_ok());
        for bad in [
            "http://example.com/x",
            "ftp://127.0.0.1/x",
            "not a url",
            "http://127.0.0.1.evil.example/x",
        ] {
            let err = check_url("token_url", bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("token_url:"), "{bad}: {err}");
        }
    }
}
