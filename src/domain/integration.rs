//! An integration: one app's auth configuration (scheme, client credentials, scopes, URLs,
//! extra parameters), shared by every entity that connects to it. The non-secret part of
//! the configuration is plain JSON; the secret part (client secret…) stays sealed and is
//! only opened by the service when a flow needs it.

use serde_json::{Map, Value};

use crate::domain::AuthScheme;
use crate::ids::IntegrationId;

#[derive(Clone, Debug)]
pub struct Integration {
    pub id: IntegrationId,
    pub app_key: String,
    pub name: String,
    pub auth_scheme: AuthScheme,
    /// Non-secret configuration, validated against the scheme's integration fields.
    pub config: Map<String, Value>,
    /// Names of the sealed configuration fields.
    pub secret_keys: Vec<String>,
    pub scopes: Vec<String>,
    pub base_url: String,
    pub enabled: bool,
    pub deleted: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Integration {
    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }
}
