//! Reading the catalogs: the provider apps (searched and filtered here, not in a handler)
//! and the named actions as the API describes them — each with its app's catalog id and
//! the schema of what executing it answers. Reads only; nothing here touches the store.

use serde_json::{Value, json};

use super::caller::Caller;
use super::ctx::{Ctx, unknown_app};
use crate::actions::{Action, VERSION};
use crate::domain::api_key::Permission;
use crate::providers::App;
use crate::service::error::{Error, Result};

/// A named action with what its description needs from beyond its definition.
#[derive(Debug)]
pub struct ActionView<'a> {
    pub action: &'a Action,
    /// The catalog id of the action's app.
    pub app_id: String,
    /// The JSON Schema of the execute result: the action's data schema wrapped in the
    /// `data` / `successful` / `error` shape every execution answers with.
    pub response: Value,
    /// keyport has one version of each action.
    pub version: &'static str,
}

/// `search` matches the key, name or description, `category` one of the categories; both
/// ignore case, and a blank one matches everything.
fn app_matches(app: &App, search: Option<&str>, category: Option<&str>) -> bool {
    let wanted = |raw: Option<&str>| raw.map(str::to_lowercase).filter(|s| !s.is_empty());
    let search_ok = wanted(search).is_none_or(|s| {
        app.key.contains(&s)
            || app.name.to_lowercase().contains(&s)
            || app.description.to_lowercase().contains(&s)
    });
    let category_ok =
        wanted(category).is_none_or(|c| app.categories.iter().any(|a| a.to_lowercase() == c));
    search_ok && category_ok
}

/// The execute result's schema around an action's data schema.
fn result_schema(data: &Value) -> Value {
    let title = data["title"].as_str().unwrap_or("Response");
    json!({
        "title": title,
        "type": "object",
        "properties": {
            "data": data,
            "successful": {
                "type": "boolean",
                "title": "Successful",
                "description": "Whether the provider carried out the action"
            },
            "error": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": null,
                "title": "Error",
                "description": "What went wrong, when it did"
            }
        },
        "required": ["data", "successful"]
    })
}

/// Reads of the provider catalog and the named actions, over the shared context.
#[derive(Clone, Copy)]
pub(crate) struct Apps<'a> {
    ctx: &'a Ctx,
}

impl<'a> Apps<'a> {
    pub fn new(ctx: &'a Ctx) -> Self {
        Apps { ctx }
    }

    /// The catalog's apps, filtered.
    pub fn list(
        &self,
        _caller: &Caller,
        search: Option<&str>,
        category: Option<&str>,
    ) -> Vec<&'a App> {
        self.ctx
            .catalog
            .apps()
            .filter(|app| app_matches(app, search, category))
            .collect()
    }

    /// One app by its key (any case).
    pub fn get(&self, _caller: &Caller, key: &str) -> Result<&'a App> {
        self.ctx.catalog.get(key).ok_or_else(|| unknown_app(key))
    }

    /// A named action.
    pub fn action(&self, name: &str) -> Result<&'a Action> {
        self.ctx
            .actions
            .get(name)
            .ok_or_else(|| Error::not_found("action", name))
    }

    /// Actions of the given apps (all when empty; names ignore case), at most `limit`.
    pub fn actions(
        &self,
        caller: &Caller,
        apps: &[String],
        limit: Option<usize>,
    ) -> Result<Vec<&'a Action>> {
        caller.require(Permission::Use)?;
        let apps: Vec<String> = apps.iter().map(|a| a.trim().to_ascii_lowercase()).collect();
        Ok(self
            .ctx
            .actions
            .iter()
            .filter(|a| apps.is_empty() || apps.contains(&a.app))
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    fn action_view(&self, action: &'a Action) -> ActionView<'a> {
        ActionView {
            action,
            app_id: self
                .ctx
                .catalog
                .get(&action.app)
                .map(|app| app.app_id().to_string())
                .unwrap_or_default(),
            response: result_schema(&action.def.response),
            version: VERSION,
        }
    }

    /// Actions of the given apps (all when empty), at most `limit`, as the API shows them.
    pub fn action_views(
        &self,
        caller: &Caller,
        apps: &[String],
        limit: Option<usize>,
    ) -> Result<Vec<ActionView<'a>>> {
        let list = self.actions(caller, apps, limit)?;
        Ok(list.into_iter().map(|a| self.action_view(a)).collect())
    }

    /// One action by name, as the API shows it.
    pub fn action_view_of(&self, caller: &Caller, name: &str) -> Result<ActionView<'a>> {
        caller.require(Permission::Use)?;
        let action = self.action(name)?;
        Ok(self.action_view(action))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::providers::Catalog;

    #[test]
    fn apps_match_by_key_name_description_and_category_in_any_case() {
        let catalog = Catalog::builtin().unwrap();
        let github = catalog.get("github").unwrap();
        assert!(app_matches(github, Some("GIT"), None));
        assert!(app_matches(github, Some(""), Some("")));
        assert!(app_matches(github, None, None));
        assert!(!app_matches(github, Some("no-such-thing"), None));
        let category = github.categories[0].to_uppercase();
        assert!(app_matches(github, None, Some(&category)));
        assert!(!app_matches(github, None, Some("no-such-category")));
    }

    #[test]
    fn the_result_schema_wraps_the_data_schema() {
        let wrapped = result_schema(&json!({"title": "Issue", "type": "object"}));
        assert_eq!(wrapped["title"], "Issue");
        assert_eq!(wrapped["properties"]["data"]["title"], "Issue");
        assert_eq!(wrapped["required"], json!(["data", "successful"]));
        assert_eq!(result_schema(&json!({}))["title"], "Response");
    }
}
