//! `keyport actions list [--app A] | show NAME | run NAME --entity E --input JSON [--connection ID]`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc};
use super::proxy::body_arg;
use super::{CliError, CliResult, output};

#[derive(Subcommand, Debug)]
pub enum ActionsCmd {
    /// List named actions.
    List {
        /// Only this app's actions (comma-separated for several).
        #[arg(long)]
        app: Option<String>,
    },
    /// Show one action and its input.
    Show { name: String },
    /// Run an action for an entity through its connection.
    Run {
        name: String,
        /// Entity to act for (default: "default").
        #[arg(long)]
        entity: Option<String>,
        /// Input as a JSON object, or @FILE.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Use this connection instead of the entity's newest ACTIVE one.
        #[arg(long)]
        connection: Option<String>,
    },
}

fn show(action: &Value) {
    output::details(
        action,
        &[
            ("name", "name"),
            ("app", "appName"),
            ("title", "display_name"),
            ("tags", "tags"),
            ("description", "description"),
        ],
    );
    let params = &action["parameters"];
    let required: Vec<&str> = params["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = params["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, schema)| {
                    vec![
                        name.clone(),
                        output::cell(&schema["type"]),
                        if required.contains(&name.as_str()) {
                            "yes"
                        } else {
                            ""
                        }
                        .to_string(),
                        output::cell(&schema["description"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    println!();
    output::table(&["INPUT", "TYPE", "REQUIRED", "DESCRIPTION"], rows);
}

pub fn run(client: &Client, cmd: ActionsCmd, as_json: bool) -> CliResult {
    match cmd {
        ActionsCmd::List { app } => {
            let path = match app {
                Some(app) => format!("/api/v2/actions?apps={}", enc(&app)),
                None => "/api/v2/actions".to_string(),
            };
            let list = client.get(&path)?;
            if as_json {
                output::json(&list);
            } else {
                output::table(
                    &["NAME", "APP", "TITLE"],
                    output::rows(&list, &["name", "appName", "display_name"]),
                );
            }
        }
        ActionsCmd::Show { name } => {
            let action = client.get(&format!("/api/v2/actions/{}", enc(&name)))?;
            if as_json {
                output::json(&action);
            } else {
                show(&action);
            }
        }
        ActionsCmd::Run {
            name,
            entity,
            input,
            connection,
        } => {
            let input = body_arg(&input)?;
            if !input.is_object() {
                return Err(CliError::new("--input must be a JSON object"));
            }
            let body = json!({
                "entityId": entity,
                "connectedAccountId": connection,
                "input": input,
            });
            let result = client.post(&format!("/api/v2/actions/{}/execute", enc(&name)), &body)?;
            if as_json {
                output::json(&result);
            } else {
                output::json(&result["data"]);
            }
            if result["successful"] != Value::Bool(true) {
                return Err(CliError::new(format!(
                    "the action did not succeed: {}",
                    output::cell(&result["error"])
                )));
            }
        }
    }
    Ok(())
}
