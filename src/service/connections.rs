//! Connections (connected accounts): create, read, list, enable/disable, delete, and the
//! explicit reveal of a live credential. Token schemes become ACTIVE as soon as their
//! fields are given; redirect schemes start INITIATED and are completed by the browser
//! flow. Reads show secret parameters as `********`; only `reveal` opens them.

mod read;

use serde_json::{Map, Value};

use super::integrations::CONNECTION_DEFAULTS;
use super::{Service, unknown_app};
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId, IntegrationId};
use crate::providers::fields::{self, FieldSpec};
use crate::service::Caller;
use crate::service::{Error, Result};
use crate::store::{NewConnection, StoreError, connections, integrations};

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
}

impl std::fmt::Debug for CreateConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("integration_id", &self.integration_id)
            .field("entity", &self.entity)
            .field("data_keys", &super::KeysOnly(&self.data))
            .field("labels", &self.labels)
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct CreatedConnection {
    pub id: ConnectionId,
    pub status: ConnectionStatus,
    pub redirect_url: Option<String>,
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
            .field("params", &super::KeysOnly(&self.params))
            .finish()
    }
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

/// A connection with its integration and both sealed secret blobs, as one snapshot read
/// them.
pub(crate) struct Loaded {
    pub connection: Connection,
    pub integration: Integration,
    pub connection_secrets: Option<Vec<u8>>,
    pub integration_secrets: Option<Vec<u8>>,
}

impl Service {
    /// Loads a connection the caller may see; others' connections are "not found".
    pub(crate) fn load_connection(&self, caller: &Caller, id: ConnectionId) -> Result<Connection> {
        let connection = self
            .store
            .read(|db| connections::get(db, id))?
            .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
        if caller.may_act_for(&connection.entity_id).is_err() {
            return Err(Error::not_found("connected account", id.to_string()));
        }
        Ok(connection)
    }

    /// A connection the caller may see, its integration and both sealed secret blobs,
    /// read from one snapshot: one read transaction where there were four.
    pub(crate) fn load_sealed(&self, caller: &Caller, id: ConnectionId) -> Result<Loaded> {
        let found = self.store.snapshot(|db| {
            let Some(connection) = connections::get(db, id)? else {
                return Ok::<_, StoreError>(None);
            };
            let Some(integration) = integrations::get(db, connection.integration_id)? else {
                return Ok(None);
            };
            Ok(Some(Loaded {
                connection_secrets: connections::secrets(db, id)?,
                integration_secrets: integrations::secrets(db, integration.id)?,
                connection,
                integration,
            }))
        })?;
        found
            .filter(|l| caller.may_act_for(&l.connection.entity_id).is_ok())
            .ok_or_else(|| Error::not_found("connected account", id.to_string()))
    }

    pub(crate) fn connection_secrets(&self, id: ConnectionId) -> Result<Map<String, Value>> {
        let blob = self.store.read(|db| connections::secrets(db, id))?;
        self.open_map(TABLE, &id.to_string(), blob.as_deref())
    }

    pub fn create_connection(
        &self,
        caller: &Caller,
        req: CreateConnection,
    ) -> Result<CreatedConnection> {
        caller.require(Permission::Use)?;
        let entity = EntityId::or_default(req.entity.as_deref())?;
        caller.may_act_for(&entity)?;
        let integration = self.load_integration(req.integration_id)?;
        if integration.deleted {
            return Err(Error::not_found(
                "integration",
                req.integration_id.to_string(),
            ));
        }
        if !integration.enabled {
            return Err(Error::Conflict(format!(
                "integration {} is disabled; enable it first",
                integration.id
            )));
        }
        let labels = valid_labels(req.labels)?;
        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| unknown_app(&integration.app_key))?;
        let spec = self.scheme_of(app, integration.auth_scheme)?;
        if let Some(url) = &req.redirect_url {
            super::integrations::check_url("redirectUri", url)?;
        }
        // Defaults carried on the integration, overridden by the caller's data.
        let mut input = Map::new();
        if let Some(Value::Object(defaults)) = integration.config.get(CONNECTION_DEFAULTS) {
            input.extend(defaults.clone());
        }
        if integration
            .secret_keys
            .iter()
            .any(|k| k == CONNECTION_DEFAULTS)
            && let Some(Value::Object(defaults)) = self
                .integration_secrets(integration.id)?
                .remove(CONNECTION_DEFAULTS)
        {
            input.extend(defaults);
        }
        input.extend(req.data);
        let wanted: Vec<FieldSpec> = spec.connection_fields(app);
        let validated = fields::validate(&wanted, &input)?;
        if let Some(key) = validated.secret.get("credentials_json") {
            crate::auth::google::check_key(key)
                .map_err(|reason| fields::FieldError::new("credentials_json", reason))?;
        }
        if req.validate {
            let checkable = matches!(
                integration.auth_scheme,
                AuthScheme::ApiKey | AuthScheme::BearerToken | AuthScheme::Basic
            );
            if !checkable || app.whoami.is_none() {
                return Err(Error::invalid(format!(
                    "validate: {} {} connections cannot be checked (no who-am-I endpoint for this scheme)",
                    app.key, integration.auth_scheme
                )));
            }
        }
        match integration.auth_scheme {
            AuthScheme::OAuth2 => {
                let created = self.initiate_oauth2(
                    app,
                    &integration,
                    &entity,
                    &labels,
                    validated.plain,
                    req.redirect_url,
                )?;
                return Ok(created);
            }
            AuthScheme::OAuth1 => {
                return self.initiate_oauth1(
                    &integration,
                    &entity,
                    &labels,
                    validated.plain,
                    req.redirect_url,
                );
            }
            _ => {}
        }
        let id = ConnectionId::new();
        let secret_keys: Vec<String> = validated.secret.keys().cloned().collect();
        let sealed = self.seal_map(TABLE, &id.to_string(), &validated.secret)?;
        let now = self.clock.stamp();
        let status = if req.validate {
            ConnectionStatus::Initiated
        } else {
            ConnectionStatus::Active
        };
        self.store.write(|tx| {
            connections::insert(
                tx,
                &NewConnection {
                    id,
                    integration_id: integration.id,
                    entity_id: &entity,
                    app_key: &integration.app_key,
                    status,
                    status_reason: None,
                    labels: &labels,
                    params: &validated.plain,
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    now: &now,
                },
            )
        })?;
        let status = if req.validate {
            let outcome = self.check_new_connection(id)?;
            if outcome.ok {
                ConnectionStatus::Active
            } else {
                ConnectionStatus::Failed
            }
        } else {
            status
        };
        Ok(CreatedConnection {
            id,
            status,
            redirect_url: None,
        })
    }

    /// Moves a connection to `to` if the lifecycle allows it.
    pub(crate) fn transition(
        &self,
        id: ConnectionId,
        to: ConnectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.stamp();
        self.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            current.status.check(to)?;
            connections::set_status(tx, id, to, reason, &now)?;
            Ok::<_, Error>(())
        })?;
        self.notify_change();
        Ok(())
    }

    pub fn set_connection_enabled(
        &self,
        caller: &Caller,
        id: ConnectionId,
        enabled: bool,
    ) -> Result<ConnectionView> {
        caller.require(Permission::Use)?;
        self.load_connection(caller, id)?;
        let (to, reason) = if enabled {
            (ConnectionStatus::Active, None)
        } else {
            (ConnectionStatus::Inactive, Some("disabled by the user"))
        };
        self.transition(id, to, reason)?;
        self.get_connection(caller, id)
    }

    pub fn delete_connection(&self, caller: &Caller, id: ConnectionId) -> Result<()> {
        caller.require(Permission::Use)?;
        let connection = self.load_connection(caller, id)?;
        connection.status.check(ConnectionStatus::Deleted)?;
        let integration = self.load_integration(connection.integration_id)?;
        if integration.auth_scheme == AuthScheme::OAuth2
            && connection.status != ConnectionStatus::Initiated
        {
            self.revoke_oauth2(&connection, &integration);
        }
        let now = self.clock.stamp();
        self.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            current.status.check(ConnectionStatus::Deleted)?;
            connections::soft_delete(tx, id, &now)?;
            Ok(())
        })
    }

    /// The live credential of an ACTIVE connection: every parameter, secrets opened.
    /// Only keys with the `reveal` permission may call this.
    pub fn reveal_connection(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<RevealedCredential> {
        caller.require(Permission::Reveal)?;
        let loaded = self.load_sealed(caller, id)?;
        if !loaded.connection.status.usable() {
            return Err(Error::Conflict(format!(
                "connected account {id} is {}; reconnect it before using its credential",
                loaded.connection.status
            )));
        }
        // Token-issuing schemes: hand out a token that is valid now, then read what was
        // committed.
        let loaded = match loaded.integration.auth_scheme {
            AuthScheme::OAuth2 => {
                let credentials = self.open_loaded(&loaded)?;
                self.oauth2_access_token(
                    &loaded.connection,
                    &loaded.integration,
                    &credentials,
                    None,
                )?;
                self.load_sealed(caller, id)?
            }
            AuthScheme::BasicWithJwt | AuthScheme::GoogleServiceAccount => {
                let credentials = self.open_loaded(&loaded)?;
                self.issued_token(&loaded.connection, &loaded.integration, &credentials, None)?;
                self.load_sealed(caller, id)?
            }
            _ => loaded,
        };
        let Loaded {
            connection,
            integration,
            connection_secrets,
            ..
        } = loaded;
        let mut params = connection.params.clone();
        params.extend(self.open_map(TABLE, &id.to_string(), connection_secrets.as_deref())?);
        Ok(RevealedCredential {
            connection,
            auth_scheme: integration.auth_scheme,
            params,
        })
    }

    /// Every entity with its number of live connections.
    pub fn list_entities(&self, caller: &Caller) -> Result<Vec<EntitySummary>> {
        caller.require(Permission::Use)?;
        let all = self.store.read(connections::entities)?;
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
