//! Access tokens keyport obtains itself from a connection's long-lived material:
//! BASIC_WITH_JWT (username and password → JWT) and GOOGLE_SERVICE_ACCOUNT (signed
//! assertion → access token). Connections of these schemes are ACTIVE from creation and get
//! their first token on first use.
//!
//! The token is cached in the connection like an OAuth 2.0 one: `access_token` sealed with
//! the other secrets, `expires_at` (Unix seconds) as a plain parameter. It is reused while
//! at least [`RENEW_AHEAD_SECS`] remain. Renewal is single-flight per connection: callers
//! queue on the connection's lock and the ones behind the first find the new token in the
//! store. The new token is committed before anyone is handed it. A 400/401 from the token
//! endpoint means the credentials no longer work: the connection becomes EXPIRED with the
//! reason. A network failure is `upstream_failed` and the connection stays ACTIVE.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{Service, unknown_app};
use crate::auth::{AuthError, Credentials, IssuedToken, google, jwt};
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::ConnectionId;
use crate::net::Net;
use crate::providers::{FieldError, SchemeDetails};
use crate::service::{Error, Result};
use crate::store::{SecretUpdate, connections};

/// Renew a cached token when fewer seconds than this remain.
pub const RENEW_AHEAD_SECS: i64 = 60;

/// How long a token whose expiry the provider did not say is reused (seconds).
pub const UNKNOWN_LIFETIME_SECS: i64 = 600;

const TABLE: &str = "connections";

/// The token-endpoint client and the per-connection renewal locks.
pub(super) struct IssuedState {
    net: Net,
    flights: Mutex<HashMap<ConnectionId, Arc<Mutex<()>>>>,
}

impl IssuedState {
    pub(super) fn new(token_timeout: Duration) -> Self {
        IssuedState {
            // Token responses are small.
            net: Net::new(token_timeout, 1024 * 1024),
            flights: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn not_usable(connection: &Connection) -> Error {
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

/// Scopes from an integration's `scopes` setting (space- or comma-separated, or a list).
fn scopes(config: &Map<String, Value>, fallback: &[String]) -> Vec<String> {
    match config.get("scopes") {
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => fallback.to_vec(),
    }
}

impl Service {
    fn issued_flight(&self, id: ConnectionId) -> Arc<Mutex<()>> {
        lock(&self.issued.flights).entry(id).or_default().clone()
    }

    /// A valid access token for a BASIC_WITH_JWT or GOOGLE_SERVICE_ACCOUNT connection: the
    /// cached one while it has a minute left, else a new one, committed before it is
    /// returned. `stale` is a token the provider just refused: it is renewed unless another
    /// caller has already replaced it.
    pub(crate) fn issued_token(
        &self,
        connection: &Connection,
        integration: &Integration,
        credentials: &Credentials,
        stale: Option<&str>,
    ) -> Result<SecretString> {
        let flight = self.issued_flight(connection.id);
        let _turn = lock(&flight);
        let current = self
            .store
            .read(|db| connections::get(db, connection.id))?
            .ok_or_else(|| Error::not_found("connected account", connection.id.to_string()))?;
        if !current.status.usable() {
            return Err(not_usable(&current));
        }
        let secrets = self.connection_secrets(current.id)?;
        let now = self.clock.unix();
        let cached = secrets.get("access_token").and_then(Value::as_str);
        let expires_at = current.params.get("expires_at").and_then(Value::as_i64);
        if let (Some(token), Some(at)) = (cached, expires_at) {
            let replaced = stale.is_some_and(|s| s != token);
            let fresh = stale.is_none() && at - now >= RENEW_AHEAD_SECS;
            if replaced || fresh {
                return Ok(SecretString::from(token.to_string()));
            }
        }

        let result = self.obtain(&current, integration, credentials, &secrets, now)?;
        match result {
            Ok(issued) => self.store_issued(current.id, &issued, now),
            Err(AuthError::Rejected { status, reason }) => {
                let reason = format!(
                    "the token endpoint refused the credentials (HTTP {status}{})",
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {reason}")
                    }
                );
                self.transition(current.id, ConnectionStatus::Expired, Some(&reason))?;
                tracing::warn!(connection = %current.id, %status, "token endpoint refused the credentials; connection EXPIRED");
                Err(Error::Conflict(format!(
                    "connected account {} is EXPIRED ({reason}); reconnect it",
                    current.id
                )))
            }
            Err(e) => {
                tracing::warn!(connection = %current.id, error = %e, "obtaining a token failed");
                Err(e.into())
            }
        }
    }

    /// One token request for the connection's scheme. The outer `Result` is a problem on
    /// our side (configuration, template variables); the inner one is the provider's answer.
    fn obtain(
        &self,
        connection: &Connection,
        integration: &Integration,
        credentials: &Credentials,
        secrets: &Map<String, Value>,
        now: i64,
    ) -> Result<std::result::Result<IssuedToken, AuthError>> {
        let app = self
            .catalog
            .get(&integration.app_key)
            .ok_or_else(|| unknown_app(&integration.app_key))?;
        let spec = app.scheme(integration.auth_scheme).map(|s| &s.details);
        let catalog_url = match spec {
            Some(SchemeDetails::BasicWithJwt(s)) => Some(s.token_url.as_str()),
            Some(SchemeDetails::GoogleServiceAccount(s)) => Some(s.token_url.as_str()),
            _ => None,
        };
        let template = credentials
            .integration_str("token_url")
            .or(catalog_url)
            .ok_or_else(|| Error::Field(FieldError::new("token_url", "is required")))?;
        let token_url = self.render_for(template, connection)?;
        let secret = |name: &str| {
            secrets
                .get(name)
                .or_else(|| credentials.connection.get(name))
        };
        Ok(match integration.auth_scheme {
            AuthScheme::BasicWithJwt => {
                let text = |name: &str| {
                    connection
                        .params
                        .get(name)
                        .or_else(|| secret(name))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                jwt::obtain(
                    &self.issued.net,
                    &token_url,
                    text("username"),
                    text("password"),
                    now,
                )
            }
            AuthScheme::GoogleServiceAccount => {
                let raw = secret("credentials_json").ok_or_else(|| {
                    Error::Conflict(format!(
                        "connected account {} lacks credentials_json; reconnect it",
                        connection.id
                    ))
                })?;
                let key = google::parse_key(raw)
                    .map_err(|reason| Error::Field(FieldError::new("credentials_json", reason)))?;
                let default_scopes = match spec {
                    Some(SchemeDetails::GoogleServiceAccount(s)) => s.default_scopes.clone(),
                    _ => integration.scopes.clone(),
                };
                let scopes = scopes(&credentials.integration, &default_scopes);
                let subject = connection.params.get("subject").and_then(Value::as_str);
                google::obtain(&self.issued.net, &key, &token_url, &scopes, subject, now)
            }
            other => {
                return Err(Error::Internal(format!(
                    "{other} tokens are not issued by this path"
                )));
            }
        })
    }

    /// Commits a new token (sealed) and its expiry, then hands the token out.
    fn store_issued(
        &self,
        id: ConnectionId,
        issued: &IssuedToken,
        now: i64,
    ) -> Result<SecretString> {
        let expires_at = issued
            .expires_at
            .unwrap_or(now.saturating_add(UNKNOWN_LIFETIME_SECS));
        let stamp = self.clock.stamp();
        self.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", id.to_string()))?;
            if !current.status.usable() {
                return Err(not_usable(&current));
            }
            let blob = connections::secrets(tx, id)?;
            let mut secrets = self.open_map(TABLE, &id.to_string(), blob.as_deref())?;
            secrets.insert(
                "access_token".into(),
                Value::String(issued.access_token.expose_secret().to_string()),
            );
            let mut params = current.params.clone();
            params.insert("expires_at".into(), Value::from(expires_at));
            let secret_keys: Vec<String> = secrets.keys().cloned().collect();
            let sealed = self.seal_map(TABLE, &id.to_string(), &secrets)?;
            connections::update_secrets(
                tx,
                id,
                &SecretUpdate {
                    status: ConnectionStatus::Active,
                    status_reason: None,
                    params: &params,
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    now: &stamp,
                },
            )?;
            Ok(())
        })?;
        Ok(SecretString::from(
            issued.access_token.expose_secret().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_the_setting_or_the_fallback() {
        let config = serde_json::json!({"scopes": "a b,c"});
        let config = config.as_object().cloned().unwrap_or_default();
        assert_eq!(scopes(&config, &[]), ["a", "b", "c"]);
        assert_eq!(scopes(&Map::new(), &["d".to_string()]), ["d"]);
    }
}
