//! Connections (connected accounts): create, read, list, enable/disable, delete, and the
//! explicit reveal of a live credential. Token schemes become ACTIVE as soon as their
//! fields are given; redirect schemes start INITIATED and are completed by the browser
//! flow. Reads show secret parameters as `********`; only `reveal` opens them.

mod auth_params;
mod read;

use serde_json::{Map, Value};

use super::caller::Caller;
use super::checks::{CheckOutcome, Checks, DISABLED_BY_USER};
use super::ctx::{Ctx, Loaded, check_url};
use super::flows::{CreatedConnection, FLOW_TTL_SECS, Flows, Start};
use super::integrations::Integrations;
use super::tokens::Tokens;
use crate::auth;
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId, IntegrationId};
use crate::providers::fields::{self, FieldSpec};
use crate::secret::KeysOnly;
use crate::service::error::{Error, Result};
use crate::store::{NewConnection, connections};

pub use auth_params::AuthParams;
pub use read::{ConnectionPage, ConnectionView, ListConnections};

const TABLE: &str = "connections";

/// An entity, when it was first seen, and its number of live connections.
pub type EntitySummary = (EntityId, String, u64);

#[derive(Default)]
pub struct CreateConnection {
    pub integration_id: IntegrationId,
    pub entity: Option<String>,
    /// The caller's input, secrets included: `Debug` shows only its keys.
    pub data: Map<String, Value>,
    pub labels: Vec<String>,
    /// Where to send the browser once a redirect flow completes.
    pub redirect_url: Option<String>,
    /// Check the credential against the app's who-am-I endpoint before it is ACTIVE
    /// (API_KEY, BEARER_TOKEN and BASIC).
    pub validate: bool,
    /// The scheme the caller's credential is for (v3 sends it with the credential):
    /// refused unless it is the integration's, so a token meant for another scheme is
    /// never stored under this one.
    pub scheme: Option<AuthScheme>,
}

/// A connection started for a browser link, and when that link stops working.
#[derive(Debug, Clone)]
pub struct LinkedConnection {
    pub created: CreatedConnection,
    pub expires_at: String,
}

impl std::fmt::Debug for CreateConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("integration_id", &self.integration_id)
            .field("entity", &self.entity)
            .field("data_keys", &KeysOnly(&self.data))
            .field("labels", &self.labels)
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

/// A connection's live credential, for a `reveal`: every parameter, secrets opened.
/// `Debug` shows the parameter names only.
pub struct RevealedCredential {
    pub connection: Connection,
    pub auth_scheme: AuthScheme,
    pub params: Map<String, Value>,
}

impl std::fmt::Debug for RevealedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealedCredential")
            .field("connection", &self.connection.id)
            .field("auth_scheme", &self.auth_scheme)
            .field("params", &KeysOnly(&self.params))
            .finish()
    }
}

/// What `PATCH /api/v1/connectedAccounts/{id}` may change; `None` leaves it.
#[derive(Debug, Default)]
pub struct ConnectionPatch {
    pub labels: Option<Vec<String>>,
    pub default: Option<bool>,
}

fn valid_labels(labels: Vec<String>) -> Result<Vec<String>> {
    if labels.len() > 32 {
        return Err(Error::invalid("labels: at most 32 labels"));
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for label in labels {
        let label = label.trim().to_string();
        if label.is_empty() || label.chars().count() > 64 || label.chars().any(char::is_control) {
            return Err(Error::invalid(
                "labels: each label must be 1 to 64 printable characters",
            ));
        }
        if !out.contains(&label) {
            out.push(label);
        }
    }
    Ok(out)
}

/// Connections over the shared context and the token lifecycle.
#[derive(Clone, Copy)]
pub(crate) struct Connections<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

impl<'a> Connections<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        Connections { ctx, tokens }
    }

    fn flows(&self) -> Flows<'a> {
        Flows::new(self.ctx, self.tokens)
    }

    /// Creates a connection: ACTIVE as soon as a static or issued scheme's fields are
    /// given (INITIATED first when the credential is to be checked), INITIATED with a
    /// connect link for a browser flow.
    pub fn create(&self, caller: &Caller, req: CreateConnection) -> Result<CreatedConnection> {
        caller.require(Permission::Use)?;
        let entity = EntityId::or_default(req.entity.as_deref())?;
        caller.may_act_for(&entity)?;
        let integration = self.usable_integration(req.integration_id)?;
        if let Some(scheme) = req.scheme
            && scheme != integration.auth_scheme
        {
            return Err(Error::invalid(format!(
                "authScheme: the credential is for {scheme}, but integration {} uses {}",
                integration.id.v3(),
                integration.auth_scheme
            )));
        }
        let labels = valid_labels(req.labels)?;
        if let Some(url) = &req.redirect_url {
            check_url("redirectUri", url)?;
        }
        let validated = self.validated_input(&integration, req.data, req.validate)?;
        let start = Start {
            integration: &integration,
            entity: &entity,
            labels: &labels,
            params: &validated.plain,
            redirect_after: req.redirect_url.as_deref(),
            reconnect: None,
        };
        match self.flows().initiate(start)? {
            Some(created) => Ok(created),
            None => self.store_given(start, &validated.secret, req.validate),
        }
    }

    /// Starts a connection whose user completes it in a browser through keyport's connect
    /// link; only for integrations with a browser flow (OAuth 2.0 and 1.0a).
    pub fn link(&self, caller: &Caller, req: CreateConnection) -> Result<LinkedConnection> {
        caller.require(Permission::Use)?;
        let integration = self.usable_integration(req.integration_id)?;
        if !integration.auth_scheme.needs_browser() {
            return Err(Error::invalid(format!(
                "auth_config_id: a link is completed in a browser, and {} connections ({}) are \
                 not: create the connected account with its credential instead",
                integration.app_key, integration.auth_scheme
            )));
        }
        let created = self.create(caller, req)?;
        let expires = self.ctx.clock.now() + time::Duration::seconds(FLOW_TTL_SECS);
        Ok(LinkedConnection {
            created,
            expires_at: crate::clock::format_stamp(expires),
        })
    }

    /// How many ACTIVE connections each integration has, counting only the caller's
    /// entity's for a key restricted to one.
    pub fn active_counts(&self, caller: &Caller) -> Result<Vec<(IntegrationId, u64)>> {
        caller.require(Permission::Use)?;
        let entity = caller.entity.clone();
        Ok(self
            .ctx
            .store
            .read(|db| connections::active_counts(db, entity.as_ref()))?)
    }

    /// The integration a new connection is made through: it exists and is enabled.
    fn usable_integration(&self, id: IntegrationId) -> Result<Integration> {
        let integration = self.ctx.load_integration(id)?;
        if integration.deleted {
            return Err(Error::not_found("integration", id.to_string()));
        }
        if !integration.enabled {
            return Err(Error::Conflict(format!(
                "integration {} is disabled; enable it first",
                integration.id
            )));
        }
        Ok(integration)
    }

    /// The caller's data over the integration's connection defaults, validated against the
    /// scheme's connection fields and checked by the scheme.
    fn validated_input(
        &self,
        integration: &Integration,
        data: Map<String, Value>,
        validate: bool,
    ) -> Result<fields::Validated> {
        let app = self.ctx.app(&integration.app_key)?;
        let spec = self.ctx.scheme_of(app, integration.auth_scheme)?;
        // Defaults carried on the integration, overridden by the caller's data.
        let mut input = Integrations::new(self.ctx).connection_defaults(integration)?;
        input.extend(data);
        let wanted: Vec<FieldSpec> = spec.connection_fields(app);
        let validated = fields::validate(&wanted, &input)?;
        auth::check_connection(integration.auth_scheme, &validated.secret)?;
        if validate && (!auth::traits(integration.auth_scheme).checkable || app.whoami.is_none()) {
            return Err(Error::invalid(format!(
                "validate: {} {} connections cannot be checked (no who-am-I endpoint for this scheme)",
                app.key, integration.auth_scheme
            )));
        }
        Ok(validated)
    }

    /// Stores a connection whose credential the caller gave: ACTIVE, or — to be checked
    /// first — INITIATED, then ACTIVE or FAILED by the check's verdict.
    fn store_given(
        &self,
        start: Start<'_>,
        secret: &Map<String, Value>,
        validate: bool,
    ) -> Result<CreatedConnection> {
        let id = ConnectionId::new();
        let secret_keys: Vec<String> = secret.keys().cloned().collect();
        let sealed = self.ctx.seal_map(TABLE, &id.to_string(), secret)?;
        let now = self.ctx.clock.stamp();
        let status = match validate {
            true => ConnectionStatus::Initiated,
            false => ConnectionStatus::Active,
        };
        self.ctx.store.write(|tx| {
            connections::insert(
                tx,
                &NewConnection {
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    ..start.row(id, status, &now)
                },
            )
        })?;
        self.ctx.transitioned(start.subject(id), None, status, None);
        let status = match validate {
            true if Checks::new(self.ctx, self.tokens).at_creation(id)?.ok => {
                ConnectionStatus::Active
            }
            true => ConnectionStatus::Failed,
            false => status,
        };
        Ok(CreatedConnection {
            id,
            status,
            auth_scheme: start.integration.auth_scheme,
            redirect_url: None,
        })
    }

    pub fn set_enabled(
        &self,
        caller: &Caller,
        id: ConnectionId,
        enabled: bool,
    ) -> Result<ConnectionView> {
        caller.require(Permission::Use)?;
        let connection = self.ctx.load_connection(caller, id)?;
        if enabled
            && matches!(
                connection.status,
                ConnectionStatus::Expired | ConnectionStatus::Failed
            )
        {
            let why = connection
                .status_reason
                .as_deref()
                .unwrap_or("no reason recorded");
            return Err(Error::Conflict(format!(
                "connected account {id} is {} ({why}): enabling would not bring its grant back; \
                 reconnect it (POST /api/v1/connectedAccounts/{id}/reconnect, or `keyport connections reconnect {id}`)",
                connection.status
            )));
        }
        let (to, reason) = if enabled {
            (ConnectionStatus::Active, None)
        } else {
            (ConnectionStatus::Inactive, Some(DISABLED_BY_USER))
        };
        self.ctx.transition(id, to, reason)?;
        self.get(caller, id)
    }

    /// Edits what the user says about a connection: its labels, and whether it is its
    /// entity's default connection to its app (the one acting by app uses).
    pub fn update(
        &self,
        caller: &Caller,
        id: ConnectionId,
        patch: ConnectionPatch,
    ) -> Result<ConnectionView> {
        caller.require(Permission::Use)?;
        let connection = self.ctx.load_connection(caller, id)?;
        if connection.status == ConnectionStatus::Deleted {
            return Err(Error::not_found("connected account", id.to_string()));
        }
        let labels = patch.labels.map(valid_labels).transpose()?;
        let now = self.ctx.clock.stamp();
        self.ctx.store.write(|tx| {
            if let Some(labels) = &labels {
                connections::set_labels(tx, id, labels, &now)?;
            }
            if let Some(on) = patch.default {
                connections::set_default(tx, id, on, &now)?;
            }
            Ok::<_, Error>(())
        })?;
        self.get(caller, id)
    }

    /// Re-authorizes an OAuth connection in place: a new browser flow on the same id (see
    /// `Flows::reconnect`).
    pub fn reconnect(
        &self,
        caller: &Caller,
        id: ConnectionId,
        redirect_after: Option<&str>,
    ) -> Result<CreatedConnection> {
        caller.require(Permission::Use)?;
        let connection = self.ctx.load_connection(caller, id)?;
        let integration = self.ctx.load_integration(connection.integration_id)?;
        self.flows()
            .reconnect(&connection, &integration, redirect_after)
    }

    pub fn delete(&self, caller: &Caller, id: ConnectionId) -> Result<()> {
        caller.require(Permission::Use)?;
        let connection = self.ctx.load_connection(caller, id)?;
        connection.status.check(ConnectionStatus::Deleted)?;
        let integration = self.ctx.load_integration(connection.integration_id)?;
        if connection.status != ConnectionStatus::Initiated {
            self.tokens.revoke(&connection, &integration);
        }
        let now = self.ctx.clock.stamp();
        self.ctx.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            current.status.check(ConnectionStatus::Deleted)?;
            connections::soft_delete(tx, id, &now)?;
            Ok::<_, Error>(())
        })?;
        self.ctx.transitioned(
            (&connection).into(),
            Some(connection.status),
            ConnectionStatus::Deleted,
            None,
        );
        Ok(())
    }

    /// The live credential of an ACTIVE connection: every parameter, secrets opened.
    /// Only keys with the `reveal` permission may call this. A token-issuing scheme's
    /// token is made valid now (renewed if due), then what was committed is read.
    ///
    /// With the rows in the row cache and the token fresh this does no I/O, so handlers
    /// attempt it inline (`crate::inline`) before sending it to the blocking pool.
    pub fn reveal(&self, caller: &Caller, id: ConnectionId) -> Result<RevealedCredential> {
        caller.require(Permission::Reveal)?;
        let loaded = self.ctx.load_for(caller, id)?;
        if !loaded.connection.status.usable() {
            return Err(Error::Conflict(format!(
                "connected account {id} is {}; reconnect it before using its credential",
                loaded.connection.status
            )));
        }
        let loaded = match self.tokens.for_reveal(&loaded)? {
            true => self.ctx.load_for(caller, id)?,
            false => loaded,
        };
        let Loaded {
            connection,
            integration,
            connection_secrets,
            ..
        } = loaded;
        let mut params = connection.params.clone();
        params.extend(
            self.ctx
                .open_fields(TABLE, &id.to_string(), connection_secrets.as_deref())?
                .reveal(),
        );
        Ok(RevealedCredential {
            connection,
            auth_scheme: integration.auth_scheme,
            params,
        })
    }

    /// `keyport connections test ID`: checks a connection's credential now.
    pub fn test(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<(ConnectionView, CheckOutcome)> {
        caller.require(Permission::Use)?;
        let connection = self.ctx.load_connection(caller, id)?;
        let outcome = Checks::new(self.ctx, self.tokens).on_demand(&connection)?;
        Ok((self.get(caller, id)?, outcome))
    }

    /// Every entity with its number of live connections.
    pub fn entities(&self, caller: &Caller) -> Result<Vec<EntitySummary>> {
        caller.require(Permission::Use)?;
        let all = self.ctx.store.read(connections::entities)?;
        Ok(match &caller.entity {
            Some(own) => all.into_iter().filter(|(e, _, _)| e == own).collect(),
            None => all,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            valid_labels(vec![" a ".into(), "a".into(), "b".into()]).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert!(valid_labels(vec!["".into()]).is_err());
        assert!(valid_labels(vec!["x".repeat(65)]).is_err());
        assert!(valid_labels((0..33).map(|i| i.to_string()).collect()).is_err());
    }
}
