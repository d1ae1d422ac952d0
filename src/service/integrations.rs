//! Integrations: create, read, update, delete. Input is validated against the catalog's
//! field list for the app and scheme; secret fields are sealed; URLs must be https (plain
//! http only towards loopback, for local development and tests).

mod auth_config;

use serde_json::{Map, Value};

use self::auth_config::normalize_auth_config;
use super::caller::Caller;
use super::ctx::{Ctx, check_url};
use super::tokens::Tokens;
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, ConnectionStatus, Integration};
use crate::ids::IntegrationId;
use crate::providers::fields::{self, FieldSpec};
use crate::providers::{App, SchemeSpec};
use crate::secret::KeysOnly;
use crate::service::error::{Error, Result};
use crate::store::{IntegrationPatch, NewIntegration, connections, integrations};

const TABLE: &str = "integrations";
/// Connection fields given on an integration (the SDK's legacy habit of passing a user's
/// token in the integration's `authConfig`) are kept here and used as connection defaults.
pub const CONNECTION_DEFAULTS: &str = "connection_defaults";
/// Sealed values keyport obtained for an integration itself (see `create_sealing`): kept
/// through updates, never set by a caller.
pub const OBTAINED: [&str; 2] = ["registration_access_token", "registration_client_uri"];

#[derive(Default)]
pub struct CreateIntegration {
    /// App key, or the app's catalog id.
    pub app: String,
    pub name: Option<String>,
    pub auth_scheme: Option<AuthScheme>,
    pub auth_config: Map<String, Value>,
    /// The caller asked for Composio's managed OAuth app, with this field (the surfaces
    /// spell it differently); keyport has none, so an OAuth scheme is refused naming it.
    pub managed_auth: Option<&'static str>,
}

/// Which integrations a list answers.
#[derive(Debug, Default, Clone)]
pub struct FindIntegrations {
    /// App keys or catalog ids (any app when empty).
    pub apps: Vec<String>,
    /// Part of the name or the id, ignoring case.
    pub search: Option<String>,
    pub show_disabled: bool,
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
            .field("auth_config_keys", &KeysOnly(&self.auth_config))
            .field("managed_auth", &self.managed_auth)
            .finish()
    }
}

impl std::fmt::Debug for UpdateIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateIntegration")
            .field("name", &self.name)
            .field("auth_config_keys", &self.auth_config.as_ref().map(KeysOnly))
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
    /// The app's who-am-I URL for this scheme, a template (Composio's
    /// `get_current_user_endpoint`).
    pub current_user_endpoint: Option<String>,
    /// The redirect URI to register with the provider (OAuth schemes only).
    pub callback_url: Option<String>,
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
    crate::auth::scope_list(config.get("scopes")).unwrap_or_default()
}

/// An integration's mutable columns, owned: what create and update both write.
struct Columns {
    name: String,
    config: Map<String, Value>,
    secret_keys: Vec<String>,
    sealed: Option<Vec<u8>>,
    scopes: Vec<String>,
    base_url: String,
    enabled: bool,
    now: String,
}

impl Columns {
    /// The scopes come from the configuration, and so does the base URL, else the app's.
    fn new(
        name: String,
        config: Map<String, Value>,
        secret_keys: Vec<String>,
        sealed: Option<Vec<u8>>,
        enabled: bool,
        now: String,
        app_base: &str,
    ) -> Self {
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or(app_base)
            .to_string();
        Columns {
            scopes: scopes_of(&config),
            name,
            config,
            secret_keys,
            sealed,
            base_url,
            enabled,
            now,
        }
    }

    fn patch(&self) -> IntegrationPatch<'_> {
        IntegrationPatch {
            name: &self.name,
            config: &self.config,
            secret_keys: &self.secret_keys,
            secrets: self.sealed.as_deref(),
            scopes: &self.scopes,
            base_url: &self.base_url,
            enabled: self.enabled,
            now: &self.now,
        }
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

/// Integrations over the shared context.
#[derive(Clone, Copy)]
pub(crate) struct Integrations<'a> {
    ctx: &'a Ctx,
}

impl<'a> Integrations<'a> {
    pub fn new(ctx: &'a Ctx) -> Self {
        Integrations { ctx }
    }

    /// The connection fields `integration` carries as defaults, plain and sealed, opened.
    pub fn connection_defaults(&self, integration: &Integration) -> Result<Map<String, Value>> {
        let mut defaults = Map::new();
        if let Some(Value::Object(plain)) = integration.config.get(CONNECTION_DEFAULTS) {
            defaults.extend(plain.clone());
        }
        if integration
            .secret_keys
            .iter()
            .any(|k| k == CONNECTION_DEFAULTS)
            && let Some(Value::Object(sealed)) =
                self.secrets(integration.id)?.remove(CONNECTION_DEFAULTS)
        {
            defaults.extend(sealed);
        }
        Ok(defaults)
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
            && let Ok(mut secrets) = self.secrets(integration.id)
            && let Some(Value::Object(sealed)) = secrets.remove(CONNECTION_DEFAULTS)
        {
            names.extend(sealed.keys().cloned());
        }
        names
    }

    pub fn view(&self, integration: Integration) -> IntegrationView {
        let app = self.ctx.catalog.get(&integration.app_key);
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
            .then(|| format!("{}/callback/{}", self.ctx.public_url, integration.app_key));
        let current_user_endpoint = app.and_then(|app| {
            app.scheme(integration.auth_scheme)
                .and_then(|spec| spec.whoami_url(app))
        });
        IntegrationView {
            app_id: app.map(|a| a.app_id().to_string()).unwrap_or_default(),
            app_name: integration.app_key.clone(),
            expected,
            current_user_endpoint,
            callback_url,
            integration,
        }
    }

    pub fn create(&self, caller: &Caller, req: CreateIntegration) -> Result<IntegrationView> {
        self.create_sealing(caller, req, Map::new())
    }

    /// `create`, sealing beside the configuration's secrets `obtained`: secrets keyport got
    /// for the integration itself (a dynamic registration's `registration_access_token`),
    /// which no caller may set.
    pub(crate) fn create_sealing(
        &self,
        caller: &Caller,
        req: CreateIntegration,
        obtained: Map<String, Value>,
    ) -> Result<IntegrationView> {
        caller.require(Permission::Admin)?;
        caller.require_unrestricted()?;
        let app = self.ctx.find_app(&req.app)?;
        let scheme = req.auth_scheme.unwrap_or_else(|| app.default_scheme());
        let spec = self.ctx.scheme_of(app, scheme)?;
        let mut auth_config = req.auth_config;
        normalize_auth_config(&self.ctx.public_url, app, scheme, &mut auth_config);
        if let Some(field) = req.managed_auth
            && scheme.needs_browser()
            && !auth_config.contains_key("client_id")
        {
            return Err(Error::invalid(format!(
                "{field}: keyport has no managed OAuth apps; register your own OAuth app with {} \
                 (redirect URI {}/callback/{}) and pass its client_id and client_secret",
                app.name, self.ctx.public_url, app.key
            )));
        }
        let (own, defaults) = split_config(spec, app, &auth_config)?;
        check_urls(&own.plain)?;
        // A malformed RSA key or a missing consumer secret is refused now, not at first use.
        let mut all = own.plain.clone();
        all.extend(own.secret.clone());
        crate::auth::check_config(scheme, &all)?;
        let mut config = own.plain;
        let mut secrets = own.secret;
        if !defaults.plain.is_empty() {
            config.insert(CONNECTION_DEFAULTS.into(), Value::Object(defaults.plain));
        }
        if !defaults.secret.is_empty() {
            secrets.insert(CONNECTION_DEFAULTS.into(), Value::Object(defaults.secret));
        }
        secrets.extend(obtained);
        let now = self.ctx.clock.stamp();
        let name = match req.name {
            Some(name) => valid_name(&name)?,
            None => format!(
                "{}_{}",
                app.key.to_ascii_uppercase(),
                now.replace(['-', ':', 'T', '.', 'Z'], "")
            ),
        };
        let id = IntegrationId::new();
        let secret_keys: Vec<String> = secrets.keys().cloned().collect();
        let sealed = self.ctx.seal_map(TABLE, &id.to_string(), &secrets)?;
        let columns = Columns::new(
            name,
            config,
            secret_keys,
            sealed,
            true,
            now,
            app.base_url.as_deref().unwrap_or_default(),
        );
        self.ctx.store.write(|tx| {
            integrations::insert(
                tx,
                &NewIntegration {
                    id,
                    app_key: &app.key,
                    auth_scheme: scheme,
                    fields: columns.patch(),
                },
            )
        })?;
        self.get(caller, id)
    }

    /// The integration's sealed configuration, opened.
    pub(crate) fn secrets(&self, id: IntegrationId) -> Result<Map<String, Value>> {
        let blob = self.ctx.store.read(|db| integrations::secrets(db, id))?;
        self.ctx.open_map(TABLE, &id.to_string(), blob.as_deref())
    }

    pub fn get(&self, caller: &Caller, id: IntegrationId) -> Result<IntegrationView> {
        caller.require(Permission::Use)?;
        Ok(self.view(self.ctx.load_integration(id)?))
    }

    /// The integrations of any of `query.apps` whose name or id contains `query.search`.
    pub fn find(&self, caller: &Caller, query: FindIntegrations) -> Result<Vec<IntegrationView>> {
        caller.require(Permission::Use)?;
        let mut apps = Vec::with_capacity(query.apps.len());
        for app in &query.apps {
            apps.push(self.ctx.find_app(app)?.key.clone());
        }
        let search = query.search.as_deref().map(str::trim).unwrap_or_default();
        let search = search.to_lowercase();
        let matches = |i: &Integration| {
            search.is_empty()
                || i.name.to_lowercase().contains(&search)
                || i.id.to_string().contains(&search)
                || i.id.v3().contains(&search)
        };
        let list = self
            .ctx
            .store
            .read(|db| integrations::list(db, query.show_disabled))?;
        Ok(list
            .into_iter()
            .filter(|i| apps.is_empty() || apps.contains(&i.app_key))
            .filter(|i| matches(i))
            .map(|i| self.view(i))
            .collect())
    }

    /// `current`'s configuration with `changes` applied (given keys replace, others are
    /// kept, secrets included), validated and split again: what to store plainly, and what
    /// to seal.
    fn merged_config(
        &self,
        current: &Integration,
        mut changes: Map<String, Value>,
    ) -> Result<(Map<String, Value>, Map<String, Value>)> {
        let app = self.ctx.app(&current.app_key)?;
        let spec = self.ctx.scheme_of(app, current.auth_scheme)?;
        normalize_auth_config(&self.ctx.public_url, app, current.auth_scheme, &mut changes);
        // Merge: given keys replace, others are kept (secrets included).
        let mut old_secrets = self.secrets(current.id)?;
        let mut merged = current.config.clone();
        merged.remove(CONNECTION_DEFAULTS);
        let defaults_plain = current.config.get(CONNECTION_DEFAULTS).cloned();
        let defaults_secret = old_secrets.remove(CONNECTION_DEFAULTS);
        let obtained: Map<String, Value> = OBTAINED
            .iter()
            .filter_map(|k| Some((k.to_string(), old_secrets.remove(*k)?)))
            .collect();
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
        secrets.extend(obtained);
        Ok((config, secrets))
    }

    pub fn update(
        &self,
        caller: &Caller,
        id: IntegrationId,
        req: UpdateIntegration,
    ) -> Result<IntegrationView> {
        caller.require(Permission::Admin)?;
        caller.require_unrestricted()?;
        self.apply(id, req)?;
        self.get(caller, id)
    }

    /// An update as `update` makes it, for whoever the service has already allowed to.
    pub(crate) fn apply(&self, id: IntegrationId, req: UpdateIntegration) -> Result<()> {
        let current = self.ctx.load_integration(id)?;
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
                self.ctx.seal_map(TABLE, &id.to_string(), s)?,
            ),
            None => {
                let blob = self.ctx.store.read(|db| integrations::secrets(db, id))?;
                (current.secret_keys.clone(), blob)
            }
        };
        let app_base = self
            .ctx
            .catalog
            .get(&current.app_key)
            .and_then(|a| a.base_url.clone())
            .unwrap_or(current.base_url.clone());
        let now = self.ctx.clock.stamp();
        let enabled = req.enabled.unwrap_or(current.enabled);
        let columns = Columns::new(name, config, secret_keys, sealed, enabled, now, &app_base);
        let updated = self
            .ctx
            .store
            .write(|tx| integrations::update(tx, id, &columns.patch()))?;
        if !updated {
            return Err(Error::not_found("integration", id.to_string()));
        }
        Ok(())
    }

    /// Deletes an integration and every connection made through it (their credentials are
    /// wiped), in one transaction.
    /// Deletes an integration and its connections, each connection's tokens revoked at
    /// the provider first (best effort, as a connection delete does).
    pub fn delete(&self, caller: &Caller, id: IntegrationId, tokens: &Tokens<'_>) -> Result<usize> {
        caller.require(Permission::Admin)?;
        caller.require_unrestricted()?;
        let integration = self.ctx.load_integration(id)?;
        let live = self
            .ctx
            .store
            .read(|db| connections::live_for_integration(db, id))?;
        let mut before = Vec::with_capacity(live.len());
        for connection in live {
            let Ok(loaded) = self.ctx.load(connection) else {
                continue;
            };
            if loaded.connection.status != ConnectionStatus::Initiated {
                tokens.revoke(&loaded.connection, &integration);
            }
            before.push(loaded.connection);
        }
        let now = self.ctx.clock.stamp();
        let deleted = self.ctx.store.write(|tx| {
            if !integrations::soft_delete(tx, id, &now)? {
                return Err(Error::not_found("integration", id.to_string()));
            }
            Ok(connections::delete_for_integration(tx, id, &now)?)
        })?;
        for connection in before.iter().filter(|c| deleted.contains(&c.id)) {
            self.ctx.transitioned(
                connection.into(),
                Some(connection.status),
                ConnectionStatus::Deleted,
                None,
            );
        }
        Ok(deleted.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
