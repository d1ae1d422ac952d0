//! Integrations: create, read, update, delete. Input is validated against the catalog's
//! field list for the app and scheme; secret fields are sealed; URLs must be https (plain
//! http only towards loopback, for local development and tests).

mod auth_config;

use serde_json::{Map, Value};

use self::auth_config::normalize_auth_config;
use super::{Service, unknown_app};
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Integration};
use crate::ids::IntegrationId;
use crate::providers::fields::{self, FieldSpec};
use crate::providers::{App, SchemeSpec};
use crate::service::Caller;
use crate::service::{Error, Result};
use crate::store::{IntegrationPatch, NewIntegration, connections, integrations};

const TABLE: &str = "integrations";
/// Connection fields given on an integration (the SDK's legacy habit of passing a user's
/// token in the integration's `authConfig`) are kept here and used as connection defaults.
pub(crate) const CONNECTION_DEFAULTS: &str = "connection_defaults";

#[derive(Default)]
pub struct CreateIntegration {
    /// App key, or the app's catalog id.
    pub app: String,
    pub name: Option<String>,
    pub auth_scheme: Option<AuthScheme>,
    pub auth_config: Map<String, Value>,
    pub use_composio_auth: bool,
}

#[derive(Default)]
pub struct UpdateIntegration {
    pub name: Option<String>,
    pub auth_config: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
}

// Both requests carry client secrets in `auth_config`: `Debug` shows only its keys.
impl std::fmt::Debug for CreateIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateIntegration")
            .field("app", &self.app)
            .field("name", &self.name)
            .field("auth_scheme", &self.auth_scheme)
            .field("auth_config_keys", &super::KeysOnly(&self.auth_config))
            .field("use_composio_auth", &self.use_composio_auth)
            .finish()
    }
}

impl std::fmt::Debug for UpdateIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateIntegration")
            .field("name", &self.name)
            .field(
                "auth_config_keys",
                &self.auth_config.as_ref().map(super::KeysOnly),
            )
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// An integration with what readers need from the catalog beside it.
#[derive(Debug, Clone)]
pub struct IntegrationView {
    pub integration: Integration,
    pub app_id: String,
    pub app_name: String,
    /// What a connection to this integration must supply.
    pub expected: Vec<FieldSpec>,
    /// The redirect URI to register with the provider (OAuth schemes only).
    pub callback_url: Option<String>,
}

/// https everywhere, plain http only to a loopback host.
pub(crate) fn check_url(field: &str, raw: &str) -> Result<()> {
    // `{variable}` templates are filled per connection; check the URL's shape around them.
    let mut shaped = String::with_capacity(raw.len());
    let mut in_var = false;
    for c in raw.chars() {
        match (c, in_var) {
            ('{', false) => in_var = true,
            ('}', true) => {
                in_var = false;
                shaped.push('x');
            }
            (_, true) => {}
            (c, false) => shaped.push(c),
        }
    }
    let parsed = url::Url::parse(&shaped)
        .map_err(|e| Error::invalid(format!("{field}: not a URL ({e})")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(Error::invalid(format!("{field}: the URL has no host"))),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Error::invalid(format!(
            "{field}: must be an https URL (http only for loopback hosts)"
        ))),
    }
}

fn check_urls(config: &Map<String, Value>) -> Result<()> {
    for (key, value) in config {
        match value {
            Value::String(s) if key.ends_with("_url") && !s.is_empty() => check_url(key, s)?,
            Value::Array(items) if key.ends_with("_urls") => {
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| Error::invalid(format!("{key}: must be a list of URLs")))?;
                    check_url(key, s)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn scopes_of(config: &Map<String, Value>) -> Vec<String> {
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
        _ => Vec::new(),
    }
}

fn valid_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name: must be 1 to 128 printable characters",
        ));
    }
    Ok(name.to_string())
}

/// Splits caller input into integration config and connection defaults, validating both.
fn split_config(
    spec: &SchemeSpec,
    app: &App,
    input: &Map<String, Value>,
) -> Result<(fields::Validated, fields::Validated)> {
    let integration_fields = spec.integration_fields();
    let connection_fields: Vec<FieldSpec> = spec
        .connection_fields(app)
        .into_iter()
        .map(|f| FieldSpec {
            required: false,
            default: None,
            ..f
        })
        .collect();
    let mut own = Map::new();
    let mut defaults = Map::new();
    for (key, value) in input {
        if integration_fields.iter().any(|f| &f.name == key) {
            own.insert(key.clone(), value.clone());
        } else if connection_fields.iter().any(|f| &f.name == key) {
            defaults.insert(key.clone(), value.clone());
        } else {
            own.insert(key.clone(), value.clone()); // reported as unknown by `validate`
        }
    }
    Ok((
        fields::validate(&integration_fields, &own)?,
        fields::validate(&connection_fields, &defaults)?,
    ))
}

impl Service {
    pub(crate) fn find_app(&self, key_or_id: &str) -> Result<&App> {
        if let Some(app) = self.catalog.get(key_or_id) {
            return Ok(app);
        }
        self.catalog
            .apps()
            .find(|app| {
                app.app_id()
                    .to_string()
                    .eq_ignore_ascii_case(key_or_id.trim())
            })
            .ok_or_else(|| unknown_app(key_or_id))
    }

    pub(crate) fn scheme_of<'a>(&self, app: &'a App, scheme: AuthScheme) -> Result<&'a SchemeSpec> {
        app.scheme(scheme).ok_or_else(|| {
            let supported: Vec<&str> = app.schemes.iter().map(|s| s.mode.as_str()).collect();
            Error::invalid(format!(
                "authScheme: app {} does not support {scheme}; it supports {}",
                app.key,
                supported.join(", ")
            ))
        })
    }

    /// Names of the connection fields this integration supplies as defaults. The sealed
    /// ones are opened only to read their names; an integration whose secrets cannot be
    /// opened simply supplies none of them.
    fn connection_default_names(&self, integration: &Integration) -> Vec<String> {
        let mut names: Vec<String> = match integration.config.get(CONNECTION_DEFAULTS) {
            Some(Value::Object(plain)) => plain.keys().cloned().collect(),
            _ => Vec::new(),
        };
        if integration
            .secret_keys
            .iter()
            .any(|k| k == CONNECTION_DEFAULTS)
            && let Ok(mut secrets) = self.integration_secrets(integration.id)
            && let Some(Value::Object(sealed)) = secrets.remove(CONNECTION_DEFAULTS)
        {
            names.extend(sealed.keys().cloned());
        }
        names
    }

    pub fn view_integration(&self, integration: Integration) -> IntegrationView {
        let app = self.catalog.get(&integration.app_key);
        let expected = app
            .and_then(|app| {
                app.scheme(integration.auth_scheme)
                    .map(|spec| spec.connection_fields(app))
            })
            .unwrap_or_default();
        // A field the integration already supplies (connection defaults) is no longer
        // required from whoever connects.
        let supplied = self.connection_default_names(&integration);
        let expected = expected
            .into_iter()
            .map(|f| FieldSpec {
                required: f.required && !supplied.contains(&f.name),
                ..f
            })
            .collect();
        let callback_url = integration
            .auth_scheme
            .needs_browser()
            .then(|| format!("{}/callback/{}", self.public_url, integration.app_key));
        IntegrationView {
            app_id: app.map(|a| a.app_id().to_string()).unwrap_or_default(),
            app_name: integration.app_key.clone(),
            expected,
            callback_url,
            integration,
        }
    }

    pub fn create_integration(
        &self,
        caller: &Caller,
        req: CreateIntegration,
    ) -> Result<IntegrationView> {
        caller.require(Permission::Use)?;
        caller.require_unrestricted()?;
        let app = self.find_app(&req.app)?;
        let scheme = req.auth_scheme.unwrap_or_else(|| app.default_scheme());
        let spec = self.scheme_of(app, scheme)?;
        let mut auth_config = req.auth_config;
        normalize_auth_config(&self.public_url, app, scheme, &mut auth_config);
        if req.use_composio_auth && scheme.needs_browser() && !auth_config.contains_key("client_id")
        {
            return Err(Error::invalid(format!(
                "useComposioAuth: keyport has no managed OAuth apps; register your own OAuth app with {} \
                 (redirect URI {}/callback/{}) and pass its client_id and client_secret in authConfig",
                app.name, self.public_url, app.key
            )));
        }
        let (own, defaults) = split_config(spec, app, &auth_config)?;
        check_urls(&own.plain)?;
        if scheme == AuthScheme::OAuth1 {
            // A malformed RSA key or a missing consumer secret is refused now, not at first use.
            let mut all = own.plain.clone();
            all.extend(own.secret.clone());
            crate::auth::oauth1::check_config(&all)?;
        }
        let mut config = own.plain;
        let mut secrets = own.secret;
        if !defaults.plain.is_empty() {
            config.insert(CONNECTION_DEFAULTS.into(), Value::Object(defaults.plain));
        }
        if !defaults.secret.is_empty() {
            secrets.insert(CONNECTION_DEFAULTS.into(), Value::Object(defaults.secret));
        }
        let now = self.clock.stamp();
        let name = match req.name {
            Some(name) => valid_name(&name)?,
            None => format!(
                "{}_{}",
                app.key.to_ascii_uppercase(),
                now.replace(['-', ':', 'T', '.', 'Z'], "")
            ),
        };
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or(&app.base_url)
            .to_string();
        let scopes = scopes_of(&config);
        let id = IntegrationId::new();
        let secret_keys: Vec<String> = secrets.keys().cloned().collect();
        let sealed = self.seal_map(TABLE, &id.to_string(), &secrets)?;
        self.store.write(|tx| {
            integrations::insert(
                tx,
                &NewIntegration {
                    id,
                    app_key: &app.key,
                    name: &name,
                    auth_scheme: scheme,
                    config: &config,
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    scopes: &scopes,
                    base_url: &base_url,
                    enabled: true,
                    now: &now,
                },
            )
        })?;
        self.get_integration(caller, id)
    }

    pub(crate) fn load_integration(&self, id: IntegrationId) -> Result<Integration> {
        self.store
            .read(|db| integrations::get(db, id))?
            .ok_or_else(|| Error::not_found("integration", id.to_string()))
    }

    /// The integration's sealed configuration, opened.
    pub(crate) fn integration_secrets(&self, id: IntegrationId) -> Result<Map<String, Value>> {
        let blob = self.store.read(|db| integrations::secrets(db, id))?;
        self.open_map(TABLE, &id.to_string(), blob.as_deref())
    }

    pub fn get_integration(&self, caller: &Caller, id: IntegrationId) -> Result<IntegrationView> {
        caller.require(Permission::Use)?;
        Ok(self.view_integration(self.load_integration(id)?))
    }

    pub fn list_integrations(
        &self,
        caller: &Caller,
        app: Option<&str>,
        show_disabled: bool,
    ) -> Result<Vec<IntegrationView>> {
        caller.require(Permission::Use)?;
        let app_key = match app {
            Some(a) if !a.trim().is_empty() => Some(self.find_app(a)?.key.clone()),
            _ => None,
        };
        let list = self
            .store
            .read(|db| integrations::list(db, app_key.as_deref(), show_disabled))?;
        Ok(list.into_iter().map(|i| self.view_integration(i)).collect())
    }

    /// `current`'s configuration with `changes` applied (given keys replace, others are
    /// kept, secrets included), validated and split again: what to store plainly, and what
    /// to seal.
    fn merged_config(
        &self,
        current: &Integration,
        mut changes: Map<String, Value>,
    ) -> Result<(Map<String, Value>, Map<String, Value>)> {
        let app = self
            .catalog
            .get(&current.app_key)
            .ok_or_else(|| unknown_app(&current.app_key))?;
        let spec = self.scheme_of(app, current.auth_scheme)?;
        normalize_auth_config(&self.public_url, app, current.auth_scheme, &mut changes);
        // Merge: given keys replace, others are kept (secrets included).
        let mut old_secrets = self.integration_secrets(current.id)?;
        let mut merged = current.config.clone();
        merged.remove(CONNECTION_DEFAULTS);
        let defaults_plain = current.config.get(CONNECTION_DEFAULTS).cloned();
        let defaults_secret = old_secrets.remove(CONNECTION_DEFAULTS);
        merged.extend(old_secrets);
        merged.extend(changes);
        let (own, defaults) = split_config(spec, app, &merged)?;
        check_urls(&own.plain)?;
        let mut config = own.plain;
        let mut secrets = own.secret;
        let mut plain_defaults = match defaults_plain {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        plain_defaults.extend(defaults.plain);
        let mut secret_defaults = match defaults_secret {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        secret_defaults.extend(defaults.secret);
        if !plain_defaults.is_empty() {
            config.insert(CONNECTION_DEFAULTS.into(), Value::Object(plain_defaults));
        }
        if !secret_defaults.is_empty() {
            secrets.insert(CONNECTION_DEFAULTS.into(), Value::Object(secret_defaults));
        }
        Ok((config, secrets))
    }

    pub fn update_integration(
        &self,
        caller: &Caller,
        id: IntegrationId,
        req: UpdateIntegration,
    ) -> Result<IntegrationView> {
        caller.require(Permission::Use)?;
        caller.require_unrestricted()?;
        let current = self.load_integration(id)?;
        if current.deleted {
            return Err(Error::not_found("integration", id.to_string()));
        }
        let name = match &req.name {
            Some(n) => valid_name(n)?,
            None => current.name.clone(),
        };
        let (config, secrets) = match &req.auth_config {
            None => (current.config.clone(), None),
            Some(changes) => {
                let (config, secrets) = self.merged_config(&current, changes.clone())?;
                (config, Some(secrets))
            }
        };
        let (secret_keys, sealed) = match &secrets {
            Some(s) => (
                s.keys().cloned().collect(),
                self.seal_map(TABLE, &id.to_string(), s)?,
            ),
            None => {
                let blob = self.store.read(|db| integrations::secrets(db, id))?;
                (current.secret_keys.clone(), blob)
            }
        };
        let app_base = self
            .catalog
            .get(&current.app_key)
            .map(|a| a.base_url.clone())
            .unwrap_or(current.base_url.clone());
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(app_base);
        let scopes = scopes_of(&config);
        let now = self.clock.stamp();
        let enabled = req.enabled.unwrap_or(current.enabled);
        let updated = self.store.write(|tx| {
            integrations::update(
                tx,
                id,
                &IntegrationPatch {
                    name: &name,
                    config: &config,
                    secret_keys: &secret_keys,
                    secrets: sealed.as_deref(),
                    scopes: &scopes,
                    base_url: &base_url,
                    enabled,
                    now: &now,
                },
            )
        })?;
        if !updated {
            return Err(Error::not_found("integration", id.to_string()));
        }
        self.get_integration(caller, id)
    }

    /// Deletes an integration and every connection made through it (their credentials are
    /// wiped), in one transaction.
    pub fn delete_integration(&self, caller: &Caller, id: IntegrationId) -> Result<usize> {
        caller.require(Permission::Use)?;
        caller.require_unrestricted()?;
        let now = self.clock.stamp();
        self.store.write(|tx| {
            if !integrations::soft_delete(tx, id, &now)? {
                return Err(Error::not_found("integration", id.to_string()));
            }
            Ok(connections::delete_for_integration(tx, id, &now)?.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert!(check_url("token_url", "https://example.com/token").is_ok());
        assert!(check_url("token_url", "http://127.0.0.1:9000/token").is_ok());
        assert!(check_url("token_url", "http://[::1]:9000/token").is_ok());
        assert!(check_url("token_url", "http://localhost:9000/token").is_ok());
        assert!(check_url("token_url", "https://{subdomain}.zendesk.com/oauth/tokens").is_ok());
        for bad in [
            "http://example.com/x",
            "ftp://127.0.0.1/x",
            "not a url",
            "http://127.0.0.1.evil.example/x",
        ] {
            let err = check_url("token_url", bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("token_url:"), "{bad}: {err}");
        }
    }

    #[test]
    fn scopes_split_on_spaces_commas_or_lists() {
        let mut config = Map::new();
        config.insert(
            "scopes".into(),
            Value::String("repo, user  read:org".into()),
        );
        assert_eq!(scopes_of(&config), ["repo", "user", "read:org"]);
        config.insert("scopes".into(), serde_json::json!(["a", "b"]));
        assert_eq!(scopes_of(&config), ["a", "b"]);
    }
}
