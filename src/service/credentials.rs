//! Acting for an entity: resolve a usable connection to the request target and the
//! credential to inject, opened from the vault, typed by its scheme and fresh. This is the
//! only path by which stored credentials leave the service towards a provider.
//!
//! Sealed values open here as [`SecretFields`] (every value a secret type) and become the
//! scheme's typed [`Credentials`]; nothing outside `auth/` names a credential's wire key.

use serde_json::{Map, Value};

use super::{Caller, Service, unknown_app};
use crate::auth::{Credentials, Fields, Injection, Stored};
use crate::domain::api_key::Permission;
use crate::domain::{Connection, Integration};
use crate::ids::ConnectionId;
use crate::providers::fields;
use crate::secret::{AccessToken, SecretFields};
use crate::service::{Error, Result};
use crate::store::{StoreError, connections, integrations};

/// Everything needed to send one authenticated request for a connection.
#[derive(Debug)]
pub struct Prepared {
    pub connection: Connection,
    pub integration: Integration,
    /// The integration's API base URL with the connection's template variables filled in.
    pub base_url: String,
    /// Default headers the app wants on every call (never credentials).
    pub app_headers: Vec<(String, String)>,
    pub injection: Injection,
    /// The issued access token in `injection` (OAuth 2.0, BASIC_WITH_JWT, service
    /// accounts), so a 401 can ask for a newer one than exactly this.
    pub issued: Option<AccessToken>,
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
    Error::Conflict(format!(
        "connected account {} is {}{}; reconnect it",
        connection.id,
        connection.status,
        connection
            .status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ))
}

impl Service {
    /// A connection, its integration and both sealed blobs from one snapshot.
    pub(crate) fn load(&self, id: ConnectionId) -> Result<Loaded> {
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
        found.ok_or_else(|| Error::not_found("connected account", id.to_string()))
    }

    /// Opens both sealed blobs of `loaded` and types them by the integration's scheme.
    pub(crate) fn open(&self, loaded: &Loaded) -> Result<Credentials> {
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

    /// An integration's sealed settings, opened.
    pub(crate) fn integration_fields(&self, integration: &Integration) -> Result<SecretFields> {
        let blob = self
            .store
            .read(|db| integrations::secrets(db, integration.id))?;
        self.open_fields("integrations", &integration.id.to_string(), blob.as_deref())
    }

    /// The typed credentials of `integration` with a connection's (or a draft's) values.
    pub(crate) fn credentials(
        &self,
        integration: &Integration,
        config_secrets: &SecretFields,
        connection: Fields<'_>,
    ) -> Result<Credentials> {
        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| unknown_app(&integration.app_key))?;
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
    pub(crate) fn render_for(&self, template: &str, connection: &Connection) -> Result<String> {
        let mut vars: Map<String, Value> = Map::new();
        for (k, v) in &connection.params {
            if v.is_string() {
                vars.insert(k.clone(), v.clone());
            }
        }
        Ok(fields::render_template(template, &vars)?)
    }

    /// The callback URL to register with the provider for `app_key` (RFC 8252 loopback).
    pub fn callback_url(&self, app_key: &str) -> String {
        format!("{}/callback/{app_key}", self.public_url)
    }

    /// What one request for `connection` carries: a token-issuing scheme's current token
    /// (renewed first when needed), or the credential itself.
    fn inject(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(Injection, Option<AccessToken>)> {
        match credentials.issuer() {
            Some(issuer) => {
                let token = self.access_token(connection, issuer, None)?;
                Ok((Injection::bearer(token.expose_secret()), Some(token)))
            }
            None => Ok((credentials.injection(&self.clock)?, None)),
        }
    }

    /// A usable connection the caller may act through, with a fresh credential to inject.
    pub fn prepare(&self, caller: &Caller, id: ConnectionId) -> Result<Prepared> {
        caller.require(Permission::Use)?;
        let loaded = self.load_sealed(caller, id)?;
        if !loaded.connection.status.usable() {
            return Err(not_usable(&loaded.connection));
        }
        let app = self
            .catalog
            .get(&loaded.integration.app_key)
            .ok_or_else(|| unknown_app(&loaded.integration.app_key))?;
        let credentials = self.open(&loaded)?;
        let Loaded {
            connection,
            integration,
            ..
        } = loaded;
        let (injection, issued) = self.inject(&connection, &credentials)?;
        let base_url = self.render_for(&integration.base_url, &connection)?;
        let app_headers = app
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Prepared {
            connection,
            integration,
            base_url,
            app_headers,
            injection,
            issued,
        })
    }

    /// A new injection after the provider answered 401 to `prepared`, or `None` when
    /// there is nothing to renew: only token-issuing schemes get a newer token than the
    /// refused one (one renewal, shared with concurrent callers).
    pub(crate) fn injection_after_401(&self, prepared: &Prepared) -> Result<Option<Injection>> {
        let Some(refused) = &prepared.issued else {
            return Ok(None);
        };
        let credentials = self.open(&self.load(prepared.connection.id)?)?;
        let Some(issuer) = credentials.issuer() else {
            return Ok(None);
        };
        let fresh = self.access_token(&prepared.connection, issuer, Some(refused))?;
        Ok(Some(Injection::bearer(fresh.expose_secret())))
    }
}
