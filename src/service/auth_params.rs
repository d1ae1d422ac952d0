//! What a connection puts on an outgoing request — its API base URL, and the headers and
//! query parameters keyport injects — as a reader may see it. Composio's connected account
//! carries these (`connectionParams.headers`, `queryParams`, `base_url`), and its SDK reads
//! `headers["Authorization"]`. The names come from the same injection code the proxy uses;
//! the values are `********` unless the caller's key is a `reveal` key and the connection is
//! ACTIVE, in which case they are the live values `prepare` would inject.

use serde_json::{Map, Value};

use super::{REDACTED, Service};
use crate::auth::{self, Fields, Injection, Stored};
use crate::domain::api_key::Permission;
use crate::secret::SecretFields;
use crate::service::{Caller, ConnectionView};

/// A connection's request material, redacted or live.
#[derive(Default)]
pub struct AuthParams {
    pub base_url: Option<String>,
    pub headers: Map<String, Value>,
    pub query: Map<String, Value>,
}

impl std::fmt::Debug for AuthParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthParams")
            .field("base_url", &self.base_url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("query", &self.query.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn names_only(injection: &Injection) -> (Map<String, Value>, Map<String, Value>) {
    let redact = |list: &[(String, secrecy::SecretString)]| {
        list.iter()
            .map(|(name, _)| (name.clone(), Value::String(REDACTED.into())))
            .collect()
    };
    let mut headers: Map<String, Value> = redact(&injection.headers);
    if injection.oauth1.is_some() {
        headers.insert("Authorization".into(), Value::String(REDACTED.into()));
    }
    (headers, redact(&injection.query))
}

fn live(injection: &Injection) -> (Map<String, Value>, Map<String, Value>) {
    use secrecy::ExposeSecret;
    let open = |list: &[(String, secrecy::SecretString)]| {
        list.iter()
            .map(|(name, value)| (name.clone(), Value::String(value.expose_secret().into())))
            .collect()
    };
    let (mut headers, _) = names_only(injection);
    headers.extend(open(&injection.headers));
    (headers, open(&injection.query))
}

impl Service {
    /// The request material of `view`'s connection. Never fails: what cannot be worked out
    /// (an unknown app, a refresh that fails right now) is left out, and the read that asked
    /// for it still succeeds.
    pub fn connection_auth_params(&self, caller: &Caller, view: &ConnectionView) -> AuthParams {
        let connection = &view.connection;
        let Ok(integration) = self.load_integration(connection.integration_id) else {
            return AuthParams::default();
        };
        let base_url = self.render_for(&integration.base_url, connection).ok();
        let mut out = AuthParams {
            base_url,
            ..AuthParams::default()
        };
        if !connection.status.usable() {
            return out;
        }
        // Exactly `reveal`: a key minted to hand credentials to an agent. The admin key
        // (the CLI's) may reveal too, through /credentials, but its plain reads stay
        // redacted so `keyport connections show` never prints a live token.
        if caller.permission == Permission::Reveal {
            match self.prepare(caller, connection.id) {
                Ok(prepared) => {
                    (out.headers, out.query) = live(&prepared.injection);
                    out.base_url = Some(prepared.base_url);
                    return out;
                }
                Err(e) => tracing::warn!(
                    connection = %connection.id,
                    error = %e,
                    "live credential unavailable; showing it redacted"
                ),
            }
        }
        let Some(app) = self.catalog.get(&integration.app_key) else {
            return out;
        };
        // The stored shape with every secret already replaced: enough for names.
        let none = SecretFields::default();
        let injection = auth::redacted_injection(&Stored {
            scheme: integration.auth_scheme,
            spec: app.scheme(integration.auth_scheme).map(|s| &s.details),
            app_key: &integration.app_key,
            integration: Fields::new(&integration.config, &none),
            scopes: &integration.scopes,
            connection: Fields::new(&view.params, &none),
            callback_url: "",
        });
        (out.headers, out.query) = names_only(&injection);
        out
    }
}
