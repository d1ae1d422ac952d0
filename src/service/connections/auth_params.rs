//! What a connection puts on an outgoing request — its API base URL, and the headers and
//! query parameters keyport injects — as a reader may see it. Composio's connected account
//! carries these (`connectionParams.headers`, `queryParams`, `base_url`), and its SDK reads
//! `headers["Authorization"]`. The names come from the same injection code the proxy uses;
//! the values are `********` unless the caller's key is a `reveal` key and the connection is
//! ACTIVE.
//!
//! A reveal key reading one connection sees the live values `prepare` would inject (which
//! may renew an expired token first). A list shows what is stored, opened but never
//! renewed: listing makes no network call, however many tokens it shows.

use std::collections::BTreeMap;
use std::fmt::Display;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::Connections;
use crate::auth::{self, Credentials, Fields, Injection, Stored};
use crate::domain::api_key::Permission;
use crate::domain::{Connection, Integration};
use crate::secret::REDACTED;
use crate::secret::SecretFields;
use crate::service::access::Access;
use crate::service::caller::{Act, Caller};

/// A connection's request material, redacted or live. `Debug` shows names only.
#[derive(Clone, Default)]
pub struct AuthParams {
    pub base_url: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
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

type Pairs = BTreeMap<String, String>;

fn names_only(injection: &Injection) -> (Pairs, Pairs) {
    let redact = |list: &[(String, SecretString)]| {
        list.iter()
            .map(|(name, _)| (name.clone(), REDACTED.to_string()))
            .collect()
    };
    let mut headers: Pairs = redact(&injection.headers);
    if injection.oauth1.is_some() {
        // Signed per request: there is no value to show.
        headers.insert("Authorization".into(), REDACTED.into());
    }
    (headers, redact(&injection.query))
}

fn live(injection: &Injection) -> (Pairs, Pairs) {
    let open = |list: &[(String, SecretString)]| {
        list.iter()
            .map(|(name, value)| (name.clone(), value.expose_secret().to_string()))
            .collect::<Pairs>()
    };
    let (mut headers, _) = names_only(injection);
    headers.extend(open(&injection.headers));
    (headers, open(&injection.query))
}

impl Connections<'_> {
    /// The names of what `integration` injects, every value `********`; `redacted` is the
    /// connection's parameters with secrets already replaced.
    fn redacted_injection(
        &self,
        integration: &Integration,
        redacted: &Map<String, Value>,
    ) -> Injection {
        let Some(app) = self.ctx.catalog.get(&integration.app_key) else {
            return Injection::default();
        };
        // The stored shape with every secret already replaced: enough for names.
        let none = SecretFields::default();
        auth::redacted_injection(&Stored {
            scheme: integration.auth_scheme,
            spec: app.scheme(integration.auth_scheme).map(|s| &s.details),
            app_key: &integration.app_key,
            integration: Fields::new(&integration.config, &none),
            scopes: &integration.scopes,
            connection: Fields::new(redacted, &none),
            callback_url: "",
        })
    }

    /// The request material of `connection`. For a `reveal` key on a usable connection,
    /// `open` yields the live injection (and the base URL it renders); when it fails, the
    /// read still succeeds with redacted values.
    fn auth_params_with<E: Display>(
        &self,
        caller: &Caller,
        connection: &Connection,
        integration: &Integration,
        redacted: &Map<String, Value>,
        open: impl FnOnce() -> Result<(Injection, Option<String>), E>,
    ) -> AuthParams {
        let mut out = AuthParams {
            base_url: self.ctx.render_for(&integration.base_url, connection).ok(),
            ..AuthParams::default()
        };
        if !connection.status.usable() {
            return out;
        }
        // Exactly `reveal`: a key minted to hand credentials to an agent. The admin key
        // (the CLI's) may reveal too, through /credentials, but its plain reads stay
        // redacted so `keyport connections show` never prints a live token.
        if caller.permission == Permission::Reveal {
            match open() {
                Ok((injection, base_url)) => {
                    (out.headers, out.query) = live(&injection);
                    out.base_url = base_url.or(out.base_url);
                    return out;
                }
                Err(e) => tracing::warn!(
                    connection = %connection.id,
                    error = %e,
                    "live credential unavailable; showing it redacted"
                ),
            }
        }
        (out.headers, out.query) = names_only(&self.redacted_injection(integration, redacted));
        out
    }

    /// One connection's request material: a reveal key sees what `prepare` injects now,
    /// which may first renew an expired token.
    pub(crate) fn live_auth_params(
        &self,
        caller: &Caller,
        connection: &Connection,
        integration: &Integration,
        redacted: &Map<String, Value>,
    ) -> AuthParams {
        self.auth_params_with(caller, connection, integration, redacted, || {
            Access::new(self.ctx, self.tokens)
                .prepare(caller, connection.id, Act::Reveal)
                .map(|p| (p.injection, Some(p.base_url)))
        })
    }

    /// A listed connection's request material: a reveal key sees the stored credential
    /// (`opened`, read in the list's own pass), never renewed.
    pub(crate) fn stored_auth_params(
        &self,
        caller: &Caller,
        connection: &Connection,
        integration: &Integration,
        redacted: &Map<String, Value>,
        opened: Option<&Credentials>,
    ) -> AuthParams {
        self.auth_params_with(caller, connection, integration, redacted, || {
            let creds = opened.ok_or_else(|| "the credential was not opened".to_string())?;
            // The held credential as stored: an issued token is shown even if it has
            // expired, and nothing is renewed.
            creds
                .injection(&self.ctx.clock)
                .map(|injection| (injection, None))
                .map_err(|e| e.to_string())
        })
    }
}
