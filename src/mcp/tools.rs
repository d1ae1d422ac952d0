//! The tools an entity sees: one per named action of an app it has an ACTIVE connection
//! to (the action's name, description, input schema and declared hints), and keyport's
//! own three: `keyport_proxy`, `keyport_list_connections` and `keyport_connect`. Pure
//! data: which apps are connected is the caller's to find out, and the actions are the
//! ones the caller holds (the server's own, or the built-in set a stdio session loads).
//!
//! Every tool is available to the `use` key tools run under, because none changes a
//! connection: `keyport_proxy` and the action tools act through one (the key's
//! restrictions apply to them as to the API's proxy and actions), `keyport_list_connections`
//! reads metadata, and `keyport_connect` only starts a browser flow that the user completes
//! at the provider, with no credential from the agent (`allowedApps` applies to it). What a
//! tool may do is decided by the API call it makes, under the caller's key.

use crate::domain::api_key::{Act, Restrictions};
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use crate::actions::{Action, ActionError, Actions, check_input};

pub const PROXY: &str = "keyport_proxy";
pub const LIST_CONNECTIONS: &str = "keyport_list_connections";
pub const CONNECT: &str = "keyport_connect";

/// A tool keyport itself defines, with its compiled input schema.
struct Own {
    name: &'static str,
    tool: Tool,
    validator: jsonschema::Validator,
}

/// keyport's own tools, compiled once per process.
static OWN: LazyLock<Vec<Own>> = LazyLock::new(|| {
    own_tools()
        .into_iter()
        .filter_map(|(name, tool)| {
            let schema = Value::Object((*tool.input_schema).clone());
            // The schemas are literals above; a unit test compiles each one.
            let validator = jsonschema::validator_for(&schema).ok()?;
            Some(Own {
                name,
                tool,
                validator,
            })
        })
        .collect()
});

/// Every tool keyport can offer: its own and one per named action in `actions`.
#[derive(Clone, Copy)]
pub struct Toolbox<'a> {
    actions: &'a Actions,
}

/// What a tool name stands for.
pub enum Named<'a> {
    Action(&'a Action),
    Own(&'static str),
}

fn object(schema: Value) -> Arc<JsonObject> {
    Arc::new(match schema {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    })
}

fn proxy_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "app": {"type": "string", "minLength": 1,
                "description": "App key (github, slack…): acts through the entity's default ACTIVE connection to it, else its oldest. Give this or connected_account_id."},
            "connected_account_id": {"type": "string", "minLength": 1,
                "description": "The connection to act through (see keyport_list_connections). Give this or app."},
            "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "endpoint": {"type": "string", "minLength": 1,
                "description": "Path relative to the app's API base URL, e.g. /user, with an optional query string"},
            "query": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Query parameters"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Request headers; keyport adds the credential itself and ignores credential headers"},
            "body": {"description": "Request body: sent as JSON, or as text when a string"}
        },
        "required": ["method", "endpoint"],
        "additionalProperties": false
    })
}

fn own_tools() -> Vec<(&'static str, Tool)> {
    let annotations = |read_only: bool, destructive: bool, idempotent: bool, open_world: bool| {
        ToolAnnotations::from_raw(
            None,
            Some(read_only),
            Some(destructive),
            Some(idempotent),
            Some(open_world),
        )
    };
    let tool = |name: &'static str, description: &'static str, schema: Value| {
        (name, Tool::new(name, description, object(schema)))
    };
    vec![
        tool(
            PROXY,
            "Sends one HTTP request to an app's API through the entity's connection; keyport adds the credential. Answers {status, headers, body}.",
            proxy_schema(),
        ),
        tool(
            LIST_CONNECTIONS,
            "Lists the entity's connections: id, app, status (ACTIVE, EXPIRED…), why, labels, and which account it is where the app says.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        tool(
            CONNECT,
            "Gives a link the user opens in a browser to connect the entity to an app (or to reconnect an EXPIRED connection). The app's tools appear once it is ACTIVE.",
            json!({
                "type": "object",
                "properties": {"app": {"type": "string", "minLength": 1, "description": "App key, e.g. github"}},
                "required": ["app"],
                "additionalProperties": false
            }),
        ),
    ]
    .into_iter()
    .map(|(name, tool)| {
        let hints = match name {
            PROXY => annotations(false, true, false, true),
            LIST_CONNECTIONS => annotations(true, false, true, false),
            _ => annotations(false, false, false, false),
        };
        (name, tool.with_annotations(hints))
    })
    .collect()
}

fn action_tool(action: &Action) -> Tool {
    let def = &action.def;
    let hints = action.hints();
    Tool::new(
        def.name.clone(),
        def.description.clone(),
        object(def.parameters.clone()),
    )
    .with_title(def.display_name.clone())
    .with_annotations(ToolAnnotations::from_raw(
        Some(def.display_name.clone()),
        Some(hints.read_only),
        Some(hints.destructive),
        Some(hints.idempotent),
        Some(hints.open_world),
    ))
}

impl<'a> Toolbox<'a> {
    pub fn new(actions: &'a Actions) -> Toolbox<'a> {
        Toolbox { actions }
    }

    /// The tools for an entity connected to `apps` (lower-case keys) under a key with
    /// `restrictions`: keyport's own, then the connected apps' actions by name, leaving out
    /// what the key would be refused (the raw proxy for a key that may only run named
    /// actions, actions outside its apps, actions or writes it may not run).
    pub fn tools_for(&self, apps: &BTreeSet<String>, restrictions: &Restrictions) -> Vec<Tool> {
        let proxy_barred = restrictions.actions.is_some() && restrictions.methods.is_none();
        let own = OWN
            .iter()
            .filter(|o| !(proxy_barred && o.name == PROXY))
            .map(|o| o.tool.clone());
        let actions = self
            .actions
            .iter()
            .filter(|a| apps.contains(&a.app))
            .filter(|a| {
                let method = a.def.method.as_http();
                let act = Act::Action {
                    name: a.name(),
                    method: &method,
                    access: a.access(),
                };
                restrictions.refusal(&a.app, act).is_none()
            })
            .map(action_tool);
        own.chain(actions).collect()
    }

    /// What `name` stands for (exact spelling), whether or not its app is connected.
    pub fn named(&self, name: &str) -> Option<Named<'a>> {
        if let Some(own) = OWN.iter().find(|o| o.name == name) {
            return Some(Named::Own(own.name));
        }
        self.actions
            .get(name)
            .filter(|a| a.def.name == name)
            .map(Named::Action)
    }

    /// Checks `input` against the tool's schema; the error names the field.
    pub fn check(&self, named: &Named<'_>, input: &Value) -> Result<(), ActionError> {
        match named {
            Named::Action(action) => action.validate_input(input),
            Named::Own(name) => match OWN.iter().find(|o| o.name == *name) {
                Some(own) => check_input(&own.validator, input),
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::api_key::ProxyMethod;
    use crate::providers::Catalog;

    fn actions() -> Actions {
        let catalog = Catalog::builtin().unwrap();
        Actions::builtin(&catalog).unwrap()
    }

    #[test]
    fn keyports_own_schemas_all_compile() {
        assert_eq!(OWN.len(), own_tools().len());
    }

    #[test]
    fn an_entity_sees_its_connected_apps_actions_and_keyports_own_tools() {
        let actions = actions();
        let toolbox = Toolbox::new(&actions);
        let open = Restrictions::default();
        let none = toolbox.tools_for(&BTreeSet::new(), &open);
        let names: Vec<&str> = none.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, [PROXY, LIST_CONNECTIONS, CONNECT]);
        let github = toolbox.tools_for(&BTreeSet::from(["github".to_string()]), &open);
        assert!(github.len() > 3);
        for tool in &github[3..] {
            assert!(tool.name.starts_with("GITHUB_"), "{}", tool.name);
            assert_eq!(tool.input_schema["type"], "object");
        }
        let create = github
            .iter()
            .find(|t| t.name == "GITHUB_CREATE_AN_ISSUE")
            .unwrap();
        let hints = create.annotations.clone().unwrap();
        assert_eq!(hints.read_only_hint, Some(false));
        assert_eq!(hints.idempotent_hint, Some(false));
        let read = github
            .iter()
            .find(|t| t.name == "GITHUB_GET_THE_AUTHENTICATED_USER")
            .unwrap();
        assert_eq!(read.annotations.clone().unwrap().read_only_hint, Some(true));
    }

    fn names(tools: &[Tool]) -> Vec<String> {
        tools.iter().map(|t| t.name.to_string()).collect()
    }

    #[test]
    fn a_restricted_key_is_offered_only_what_it_may_run() {
        let actions = actions();
        let toolbox = Toolbox::new(&actions);
        let apps = BTreeSet::from(["github".to_string(), "slack".to_string()]);
        let all = names(&toolbox.tools_for(&apps, &Restrictions::default()));
        // Another app only: the connected apps' actions are all left out.
        let notion = Restrictions {
            apps: Some(vec!["notion".into()]),
            ..Restrictions::default()
        };
        assert_eq!(
            names(&toolbox.tools_for(&apps, &notion)),
            [PROXY, LIST_CONNECTIONS, CONNECT]
        );
        // Reading methods only: GitHub's and Slack's reads stay, their writes go.
        let reads = Restrictions {
            methods: Some(vec![ProxyMethod::Get, ProxyMethod::Head]),
            ..Restrictions::default()
        };
        let read = names(&toolbox.tools_for(&apps, &reads));
        assert!(
            read.contains(&"GITHUB_GET_THE_AUTHENTICATED_USER".to_string()),
            "{read:?}"
        );
        assert!(
            !read.contains(&"GITHUB_CREATE_AN_ISSUE".to_string()),
            "{read:?}"
        );
        assert!(read.len() < all.len() && read.len() > 3, "{read:?}");
        // Named actions only: no raw proxy, and just those actions.
        let one = Restrictions {
            actions: Some(vec!["GITHUB_CREATE_AN_ISSUE".into()]),
            ..Restrictions::default()
        };
        assert_eq!(
            names(&toolbox.tools_for(&apps, &one)),
            [LIST_CONNECTIONS, CONNECT, "GITHUB_CREATE_AN_ISSUE"]
        );
    }

    #[test]
    fn inputs_are_checked_against_the_named_tools_schema() {
        let actions = actions();
        let toolbox = Toolbox::new(&actions);
        assert!(toolbox.named("keyport_nope").is_none());
        assert!(
            toolbox.named("github_create_an_issue").is_none(),
            "exact names"
        );
        let proxy = toolbox.named(PROXY).unwrap();
        let fine = json!({"app": "github", "method": "GET", "endpoint": "/user"});
        assert!(toolbox.check(&proxy, &fine).is_ok());
        let bad = json!({"app": "github", "method": "BREW", "endpoint": "/user"});
        let e = toolbox.check(&proxy, &bad).unwrap_err().to_string();
        assert!(e.contains("method"), "{e}");
        let create = toolbox.named("GITHUB_CREATE_AN_ISSUE").unwrap();
        let e = toolbox
            .check(&create, &json!({"owner": "o", "repo": "r"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("title: is required"), "{e}");
    }
}
