//! The one service every surface calls: the HTTP API, the Composio-compatible routes, the
//! browser pages and the CLI (through the API). It owns the business rules — validation
//! against the provider catalog, status transitions, sealing and redaction, who may see
//! what — and is synchronous on purpose: handlers run it on the blocking pool.

mod auth_params;
mod catalog;
mod checks;
mod connections;
mod credentials;
pub mod error;
mod integrations;
mod issued;
mod keys;
mod oauth;
mod oauth1_flow;
mod proxy;

use std::sync::RwLock;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

pub use auth_params::AuthParams;
pub use catalog::ActionView;
pub use checks::CheckOutcome;
pub use connections::{
    ConnectionPage, ConnectionView, CreateConnection, CreatedConnection, EntitySummary,
    ListConnections, RevealedCredential,
};
pub use credentials::Prepared;
pub use error::{Error, Result};
pub use integrations::{CreateIntegration, IntegrationView, UpdateIntegration};
pub use keys::{Caller, CreatedKey, KeyRing};
pub use oauth::{CallbackOutcome, CallbackQuery, ConnectPage};
pub use proxy::{
    ActionOutcome, ExecuteAction, ParamIn, ProxyRequest, ProxyResponse, Target, resolve_endpoint,
};

// The vocabulary the service's callers read its answers in: domain values, ids and the
// catalog entries it hands out, so surfaces (http, cli) depend on the service alone.
pub use crate::actions::Action;
pub use crate::domain::api_key::{ApiKey, Permission};
pub use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
pub use crate::ids::EntityId;
pub use crate::providers::{App, FieldSpec, SchemeDetails};

use crate::actions::Actions;
use crate::clock::Clock;
use crate::config::Config;
use crate::net::{MAX_RESPONSE, Net};
use crate::providers::Catalog;
use crate::store::Store;
use crate::vault::{Aad, Vault};

/// What every reader sees in place of a secret value.
pub const REDACTED: &str = "********";

pub struct Service {
    store: Store,
    vault: Vault,
    catalog: Catalog,
    clock: Clock,
    keys: RwLock<KeyRing>,
    /// Browser flows and token lifecycle: the token-endpoint client, single-flight locks,
    /// refresh back-off and status-change notifications.
    oauth: oauth::OAuthState,
    /// BASIC_WITH_JWT and GOOGLE_SERVICE_ACCOUNT tokens: their client and renewal locks.
    issued: issued::IssuedState,
    /// Where this server is reachable from the user's browser, e.g. `http://127.0.0.1:7790`.
    public_url: String,
    /// The one outbound client for provider APIs (proxy and actions), with the configured
    /// upstream timeout.
    net: Net,
    /// Named actions, loaded and checked against the catalog at construction.
    actions: Actions,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(
        store: Store,
        vault: Vault,
        catalog: Catalog,
        clock: Clock,
        public_url: String,
        config: &Config,
    ) -> Result<Self> {
        let keys = KeyRing::load(&store)?;
        let actions = Actions::builtin(&catalog)?;
        Ok(Service {
            store,
            vault,
            catalog,
            clock,
            keys: RwLock::new(keys),
            oauth: oauth::OAuthState::new(config.token_timeout),
            issued: issued::IssuedState::new(config.token_timeout),
            public_url,
            net: Net::new(config.upstream_timeout, MAX_RESPONSE),
            actions,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The shared outbound client for provider APIs.
    pub fn net(&self) -> &Net {
        &self.net
    }

    pub fn actions(&self) -> &Actions {
        &self.actions
    }

    /// Seals a JSON object of secret fields; `None` when there is nothing to seal.
    fn seal_map(
        &self,
        table: &str,
        row: &str,
        map: &Map<String, Value>,
    ) -> Result<Option<Vec<u8>>> {
        if map.is_empty() {
            return Ok(None);
        }
        let plaintext = Zeroizing::new(serde_json::to_vec(map)?);
        let aad = Aad {
            table,
            row,
            column: "secrets",
        };
        Ok(Some(self.vault.seal(&aad, &plaintext)?))
    }

    /// Opens a sealed JSON object written by `seal_map`.
    fn open_map(&self, table: &str, row: &str, blob: Option<&[u8]>) -> Result<Map<String, Value>> {
        let Some(blob) = blob else {
            return Ok(Map::new());
        };
        let aad = Aad {
            table,
            row,
            column: "secrets",
        };
        let plaintext = self.vault.open(&aad, blob)?;
        Ok(serde_json::from_slice(&plaintext)?)
    }
}

/// `params` plus every secret name mapped to `REDACTED`.
pub fn redacted(params: &Map<String, Value>, secret_keys: &[String]) -> Map<String, Value> {
    let mut out = params.clone();
    for key in secret_keys {
        out.insert(key.clone(), Value::String(REDACTED.to_string()));
    }
    out
}

/// Maps an app-catalog miss to the service's error.
fn unknown_app(key: &str) -> Error {
    Error::not_found("app", key)
}

/// `Debug` for a JSON map that may hold secrets (caller input, auth configs): its keys,
/// never its values.
pub(crate) struct KeysOnly<'a>(pub &'a Map<String, Value>);

impl std::fmt::Debug for KeysOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
