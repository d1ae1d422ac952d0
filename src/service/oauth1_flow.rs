//! OAuth 1.0a connections in the browser (RFC 5849 §2): temporary credentials obtained
//! when the connection is created, the user sent to the provider through the same connect
//! page as OAuth 2.0, and the callback's `oauth_token` + `oauth_verifier` exchanged for
//! token credentials, sealed as `oauth_token` / `oauth_token_secret`.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::Service;
use super::connections::CreatedConnection;
use super::oauth::PendingFlow;
use crate::auth::oauth1::{self, Consumer, Endpoints, TemporaryCredentials};
use crate::domain::{Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId};
use crate::service::{Error, Result};
use crate::store::{SecretUpdate, connections, flows};

impl Service {
    fn oauth1_parts(
        &self,
        integration: &Integration,
        params: &Map<String, Value>,
    ) -> Result<(Endpoints, Consumer)> {
        let mut config = integration.config.clone();
        config.extend(self.integration_secrets(integration.id)?);
        let endpoints = Endpoints::from_config(&config, params)?;
        let consumer = Consumer::from_config(&config)?;
        Ok((endpoints, consumer))
    }

    /// Creates an INITIATED OAUTH1 connection: asks the provider for temporary credentials
    /// (announcing keyport's callback) and hands out the connect-page link.
    pub(crate) fn initiate_oauth1(
        &self,
        integration: &Integration,
        entity: &EntityId,
        labels: &[String],
        params: Map<String, Value>,
        redirect_after: Option<String>,
    ) -> Result<CreatedConnection> {
        if let Some(url) = &redirect_after {
            self.check_redirect_after(integration, url)?;
        }
        let (endpoints, consumer) = self.oauth1_parts(integration, &params)?;
        let callback = self.callback_url(&integration.app_key);
        let temporary = oauth1::request_token(
            self.net_oauth(),
            &endpoints,
            &consumer,
            &callback,
            self.clock.unix(),
        )?;
        let authorize_url = oauth1::authorize_url(&endpoints, &temporary)?;
        let mut flow_secrets = Map::new();
        flow_secrets.insert("authorize_url".into(), Value::String(authorize_url));
        flow_secrets.insert("oauth_token".into(), Value::String(temporary.token.clone()));
        flow_secrets.insert(
            "oauth_token_secret".into(),
            Value::String(temporary.token_secret.expose_secret().to_string()),
        );
        self.start_flow(PendingFlow {
            id: ConnectionId::new(),
            integration,
            entity,
            labels,
            params: &params,
            state_key: &temporary.token,
            flow_secrets,
            redirect_after: redirect_after.as_deref(),
            expected_issuer: None,
        })
    }

    /// The callback's second half for OAUTH1: exchange the verifier, seal the tokens.
    pub(super) fn complete_oauth1(
        &self,
        id: ConnectionId,
        flow: &flows::Flow,
        verifier: &str,
    ) -> Result<()> {
        let connection: Connection = self
            .store
            .read(|db| connections::get(db, id))?
            .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
        let integration = self.load_integration(connection.integration_id)?;
        let (endpoints, consumer) = self.oauth1_parts(&integration, &connection.params)?;
        let secrets = self.open_map("oauth_flows", &id.to_string(), Some(&flow.secrets))?;
        let text = |k: &str| {
            secrets
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let temporary = TemporaryCredentials {
            token: text("oauth_token"),
            token_secret: SecretString::from(text("oauth_token_secret")),
        };
        let tokens = oauth1::access_token(
            self.net_oauth(),
            &endpoints,
            &consumer,
            &temporary,
            verifier,
            self.clock.unix(),
        )?;
        let mut plain = connection.params.clone();
        for (k, v) in &tokens.extra {
            plain.insert(k.clone(), Value::String(v.clone()));
        }
        let mut sealed = Map::new();
        sealed.insert(
            "oauth_token".into(),
            Value::String(tokens.token.expose_secret().to_string()),
        );
        sealed.insert(
            "oauth_token_secret".into(),
            Value::String(tokens.token_secret.expose_secret().to_string()),
        );
        let secret_keys: Vec<String> = sealed.keys().cloned().collect();
        let blob = self.seal_map("connections", &id.to_string(), &sealed)?;
        let now = self.clock.stamp();
        self.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            current.status.check(ConnectionStatus::Active)?;
            connections::update_secrets(
                tx,
                id,
                &SecretUpdate {
                    status: ConnectionStatus::Active,
                    status_reason: None,
                    params: &plain,
                    secret_keys: &secret_keys,
                    secrets: blob.as_deref(),
                    now: &now,
                },
            )?;
            Ok::<_, Error>(())
        })
    }
}
