//! Acting for an entity: resolve a usable connection to the request target and the
//! credential to inject, opened from the vault and fresh. This is the only path by which
//! stored credentials leave the service towards a provider.

use serde_json::{Map, Value};

use super::Service;
use super::connections::Loaded;
use crate::auth::{self, Credentials, Injection};
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, Integration};
use crate::ids::ConnectionId;
use crate::providers::fields;
use crate::service::Caller;
use crate::service::{Error, Result};

/// Everything needed to send one authenticated request for a connection.
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
    pub issued: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("connection", &self.connection.id)
            .field("base_url", &self.base_url)
            .field("injection", &self.injection)
            .field("issued", &self.issued.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The integration's configuration and the connection's parameters, secrets opened.
    pub(crate) fn open_credentials(
        &self,
        connection: &Connection,
        integration: &Integration,
    ) -> Result<Credentials> {
        let mut integration_config = integration.config.clone();
        integration_config.extend(self.integration_secrets(integration.id)?);
        let mut params = connection.params.clone();
        params.extend(self.connection_secrets(connection.id)?);
        Ok(Credentials {
            scheme: integration.auth_scheme,
            integration: integration_config,
            connection: params,
        })
    }

    /// `open_credentials` for blobs `load_sealed` already read.
    pub(super) fn open_loaded(&self, loaded: &Loaded) -> Result<Credentials> {
        let mut integration_config = loaded.integration.config.clone();
        integration_config.extend(self.open_map(
            "integrations",
            &loaded.integration.id.to_string(),
            loaded.integration_secrets.as_deref(),
        )?);
        let mut params = loaded.connection.params.clone();
        params.extend(self.open_map(
            "connections",
            &loaded.connection.id.to_string(),
            loaded.connection_secrets.as_deref(),
        )?);
        Ok(Credentials {
            scheme: loaded.integration.auth_scheme,
            integration: integration_config,
            connection: params,
        })
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

    /// A valid access token for a token-issuing scheme; with `stale`, a newer one than
    /// that (the provider just refused it).
    pub(crate) fn issued_access_token(
        &self,
        connection: &Connection,
        integration: &Integration,
        credentials: &Credentials,
        stale: Option<&str>,
    ) -> Result<secrecy::SecretString> {
        match integration.auth_scheme {
            AuthScheme::OAuth2 => self
                .oauth2_access_token(connection, integration, credentials, stale)
                .map(secrecy::SecretString::from),
            _ => self.issued_token(connection, integration, credentials, stale),
        }
    }

    /// A usable connection the caller may act through, with a fresh credential to inject.
    pub fn prepare(&self, caller: &Caller, id: ConnectionId) -> Result<Prepared> {
        caller.require(Permission::Use)?;
        let loaded = self.load_sealed(caller, id)?;
        let connection = &loaded.connection;
        if !connection.status.usable() {
            return Err(Error::Conflict(format!(
                "connected account {id} is {}{}; reconnect it",
                connection.status,
                connection
                    .status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )));
        }
        let app = self
            .catalog
            .get(&loaded.integration.app_key)
            .ok_or_else(|| super::unknown_app(&loaded.integration.app_key))?;
        let credentials = self.open_loaded(&loaded)?;
        let Loaded {
            connection,
            integration,
            ..
        } = loaded;
        let mut issued = None;
        let injection = match integration.auth_scheme {
            AuthScheme::ApiKey
            | AuthScheme::BearerToken
            | AuthScheme::Basic
            | AuthScheme::NoAuth => auth::static_injection(app, &credentials)?,
            AuthScheme::OAuth2 | AuthScheme::BasicWithJwt | AuthScheme::GoogleServiceAccount => {
                let token =
                    self.issued_access_token(&connection, &integration, &credentials, None)?;
                let injection = Injection::bearer(secrecy::ExposeSecret::expose_secret(&token));
                issued = Some(token);
                injection
            }
            AuthScheme::OAuth1 => auth::oauth1::injection(&credentials, self.clock.clone())?,
        };
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
}
