//! The one service every surface calls: the HTTP API, the Composio-compatible routes, the
//! browser pages and the CLI (through the API). It owns the business rules — validation
//! against the provider catalog, status transitions, sealing and redaction, who may see
//! what — and is synchronous on purpose: handlers run it on the blocking pool.

mod connections;
mod credentials;
mod integrations;
mod keys;

use std::sync::RwLock;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

pub use connections::{ConnectionView, CreateConnection, CreatedConnection, ListConnections};
pub use credentials::Prepared;
pub use integrations::{CreateIntegration, IntegrationView, UpdateIntegration};
pub use keys::{Caller, CreatedKey, KeyRing};

use crate::clock::Clock;
use crate::error::{Error, Result};
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
    /// Where this server is reachable from the user's browser, e.g. `http://127.0.0.1:7790`.
    public_url: String,
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
    ) -> Result<Self> {
        let keys = KeyRing::load(&store)?;
        Ok(Service {
            store,
            vault,
            catalog,
            clock,
            keys: RwLock::new(keys),
            public_url,
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
