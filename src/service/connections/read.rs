//! Reading connections as their readers see them: one connection, or a filtered page of
//! them, each with its parameters redacted and what it puts on a request worked out in the
//! same read. A list is one pass over the store (rows, count, each integration once and,
//! for a reveal key, the sealed credentials) and never renews a token, so a list makes no
//! network call however many connections it shows; a single read by a reveal key may.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::{Map, Value};

use super::AuthParams;
use super::Connections;
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, IntegrationId};
use crate::secret::REDACTED;
use crate::service::caller::Caller;
use crate::service::ctx::Loaded;
use crate::service::error::{Error, Result};
use crate::store::{ConnectionFilter, Window, connections, integrations};

/// A list request: the store's filter as the surface parsed it (apps by key or catalog
/// id, resolved here; entities narrowed to a restricted caller's own), and the page.
#[derive(Debug, Default)]
pub struct ListConnections {
    pub filter: ConnectionFilter,
    pub active_only: bool,
    /// From 1; `page_size` 0 means every match on one page.
    pub page: u64,
    pub page_size: u64,
}

/// A connection as readers see it: secrets redacted, and what it puts on a request
/// (redacted unless the caller may reveal), worked out in the same read.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub connection: Connection,
    pub auth_scheme: AuthScheme,
    /// Whether its integration is enabled.
    pub integration_enabled: bool,
    /// The stored parameters, every secret `********`.
    pub params: Map<String, Value>,
    pub auth: AuthParams,
}

impl ConnectionView {
    fn new(
        connection: Connection,
        integration: &Integration,
        params: Map<String, Value>,
        auth: AuthParams,
    ) -> Self {
        ConnectionView {
            connection,
            auth_scheme: integration.auth_scheme,
            integration_enabled: integration.enabled,
            params,
            auth,
        }
    }
}

/// `params` plus every secret name mapped to `REDACTED`.
fn redacted(params: &Map<String, Value>, secret_keys: &[String]) -> Map<String, Value> {
    let mut out = params.clone();
    for key in secret_keys {
        out.insert(key.clone(), Value::String(REDACTED.to_string()));
    }
    out
}

/// One page of a connection list, and how many connections match on every page.
#[derive(Debug, Clone)]
pub struct ConnectionPage {
    pub views: Vec<ConnectionView>,
    pub total: u64,
}

/// The rows of `req`'s page.
fn page_window(req: &ListConnections) -> Window {
    let page_size = if req.page_size == 0 {
        u64::MAX
    } else {
        req.page_size
    };
    Window {
        limit: page_size,
        offset: req
            .page
            .saturating_sub(1)
            .saturating_mul(page_size.min(u64::MAX / 2)),
    }
}

/// One listed connection and, for a reveal key on a usable connection, its sealed
/// credential blob, read in the list's pass.
struct Row {
    connection: Connection,
    sealed: Option<Option<Vec<u8>>>,
}

impl Connections<'_> {
    /// One connection as a reader sees it; a reveal key's read may renew its token.
    fn view_with(
        &self,
        caller: &Caller,
        connection: Connection,
        integration: &Integration,
    ) -> ConnectionView {
        let params = redacted(&connection.params, &connection.secret_keys);
        let auth = self.live_auth_params(caller, &connection, integration, &params);
        ConnectionView::new(connection, integration, params, auth)
    }

    pub fn get(&self, caller: &Caller, id: ConnectionId) -> Result<ConnectionView> {
        caller.require(Permission::Use)?;
        self.flows().sweep()?;
        // The connection comes with its integration: one read of the row cache, not two.
        let loaded = self.ctx.load_for(caller, id)?;
        Ok(self.view_with(caller, loaded.connection, &loaded.integration))
    }

    /// The store filter and page for `req` as `caller` may see it; `None` when nothing can
    /// match.
    fn connection_filter(
        &self,
        caller: &Caller,
        req: ListConnections,
    ) -> Result<Option<(ConnectionFilter, Window)>> {
        let window = page_window(&req);
        let mut filter = req.filter;
        if let Some(own) = &caller.entity {
            if filter.entities.iter().any(|e| e != own) {
                return Ok(None);
            }
            filter.entities = vec![own.clone()];
        }
        if req.active_only {
            if !filter.statuses.is_empty() && !filter.statuses.contains(&ConnectionStatus::Active) {
                return Ok(None);
            }
            filter.statuses = vec![ConnectionStatus::Active];
        }
        filter.apps = filter
            .apps
            .iter()
            .map(|app| Ok(self.ctx.find_app(app)?.key.clone()))
            .collect::<Result<_>>()?;
        Ok(Some((filter, window)))
    }

    /// The connections matching `req` that `caller` may see, as stored.
    pub fn find(&self, caller: &Caller, req: ListConnections) -> Result<Vec<Connection>> {
        caller.require(Permission::Use)?;
        self.flows().sweep()?;
        match self.connection_filter(caller, req)? {
            Some((filter, window)) => Ok(self
                .ctx
                .store
                .read(|db| connections::list(db, &filter, window))?),
            None => Ok(Vec::new()),
        }
    }

    /// One page of the connections matching `req`, with how many match in all. One read
    /// pass: rows, count, each distinct integration once, and — for a reveal key — the
    /// sealed credentials, opened but never renewed. No network, whatever the list holds.
    pub fn list(&self, caller: &Caller, req: ListConnections) -> Result<ConnectionPage> {
        caller.require(Permission::Use)?;
        self.flows().sweep()?;
        let Some((filter, window)) = self.connection_filter(caller, req)? else {
            return Ok(ConnectionPage {
                views: Vec::new(),
                total: 0,
            });
        };
        let reveal = caller.permission == Permission::Reveal;
        let (rows, total, integrations) = self.ctx.store.snapshot(|db| {
            let list = connections::list(db, &filter, window)?;
            let total = connections::count(db, &filter)?;
            let mut found: HashMap<IntegrationId, (Integration, Option<Vec<u8>>)> = HashMap::new();
            let mut rows = Vec::with_capacity(list.len());
            for connection in list {
                if let Entry::Vacant(slot) = found.entry(connection.integration_id)
                    && let Some(integration) = integrations::get(db, connection.integration_id)?
                {
                    let sealed = if reveal {
                        integrations::secrets(db, integration.id)?
                    } else {
                        None
                    };
                    slot.insert((integration, sealed));
                }
                let sealed = if reveal && connection.status.usable() {
                    Some(connections::secrets(db, connection.id)?)
                } else {
                    None
                };
                rows.push(Row { connection, sealed });
            }
            Ok::<_, Error>((rows, total, found))
        })?;
        let views = rows
            .into_iter()
            .map(|row| self.listed_view(caller, row, &integrations))
            .collect::<Result<Vec<_>>>()?;
        Ok(ConnectionPage { views, total })
    }

    /// A listed row as a reader sees it, from what the list's pass read.
    fn listed_view(
        &self,
        caller: &Caller,
        row: Row,
        integrations: &HashMap<IntegrationId, (Integration, Option<Vec<u8>>)>,
    ) -> Result<ConnectionView> {
        let Row { connection, sealed } = row;
        let (integration, integration_sealed) = integrations
            .get(&connection.integration_id)
            .ok_or_else(|| {
                Error::not_found("integration", connection.integration_id.to_string())
            })?;
        let params = redacted(&connection.params, &connection.secret_keys);
        let opened = match sealed {
            Some(blob) => Some(self.ctx.open(&Loaded {
                connection: connection.clone(),
                integration: integration.clone(),
                connection_secrets: blob,
                integration_secrets: integration_sealed.clone(),
            })?),
            None => None,
        };
        let auth =
            self.stored_auth_params(caller, &connection, integration, &params, opened.as_ref());
        Ok(ConnectionView::new(connection, integration, params, auth))
    }
}
