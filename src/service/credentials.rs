//! Acting for an entity: resolve a usable connection to the request target and the
//! credential to inject, opened from the vault and fresh. This is the only path by which
//! stored credentials leave the service towards a provider.

use serde_json::{Map, Value};

use super::Service;
use crate::auth::{self, Credentials, Injection};
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, Integration};
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::providers::fields;
use crate::service::Caller;

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

    /// A usable connection the caller may act through, with a fresh credential to inject.
    pub fn prepare(&self, caller: &Caller, id: ConnectionId) -> Result<Prepared> {
        caller.require(Permission::Use)?;
        let connection = self.load_connection(caller, id)?;
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
        let integration = self.load_integration(connection.integration_id)?;
        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| super::unknown_app(&integration.app_key))?;
        let credentials = self.open_credentials(&connection, &integration)?;
        let injection = match integration.auth_scheme {
            AuthScheme::ApiKey
            | AuthScheme::BearerToken
            | AuthScheme::Basic
            | AuthScheme::NoAuth => auth::static_injection(app, &credentials)
                .map_err(|e| Error::Conflict(e.to_string()))?,
            AuthScheme::OAuth2 => Injection::bearer(&self.oauth2_access_token(
                &connection,
                &integration,
                &credentials,
                None,
            )?),
            AuthScheme::BasicWithJwt | AuthScheme::GoogleServiceAccount => {
                let token = self.issued_token(&connection, &integration, &credentials, None)?;
                Injection::bearer(secrecy::ExposeSecret::expose_secret(&token))
            }
            AuthScheme::OAuth1 => auth::oauth1::injection(&credentials, self.clock.clone())
                .map_err(super::issued::auth_error)?,
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
        })
    }
}
