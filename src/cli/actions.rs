//! `keyport actions list [--app A] | show NAME | run NAME --entity E --input JSON [--connection ID]`.

use std::collections::BTreeMap;

use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;

use super::client::{Client, enc};
use super::output::Field;
use super::proxy::body_arg;
use super::{CliError, CliResult, output};
use crate::http::dto::{ActionDto, ActionListDto, ActionListQuery, ActionResultDto, ExecuteBody};

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
        /// Use this connection instead of the entity's default (else oldest) ACTIVE one.
        #[arg(long)]
        connection: Option<String>,
    },
}

/// The part of an action's input schema (JSON Schema) the table shows.
#[derive(Deserialize, Default)]
struct InputSchema {
    #[serde(default)]
    properties: BTreeMap<String, PropertySchema>,
    #[serde(default)]
    required: Vec<String>,
}

#[derive(Deserialize)]
struct PropertySchema {
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    description: Option<String>,
}

const NAME: Field<ActionDto> = ("name", |a| a.name.clone());
const APP: Field<ActionDto> = ("app", |a| a.app_name.clone());
const TITLE: Field<ActionDto> = ("title", |a| a.display_name.clone());
const TAGS: Field<ActionDto> = ("tags", |a| a.tags.join(","));
const DESCRIPTION: Field<ActionDto> = ("description", |a| a.description.clone());

fn show(action: &ActionDto) {
    output::details_of(action, &[NAME, APP, TITLE, TAGS, DESCRIPTION]);
    let input: InputSchema = serde_json::from_value(action.parameters.clone()).unwrap_or_default();
    let rows: Vec<Vec<String>> = input
        .properties
        .iter()
        .map(|(name, schema)| {
            vec![
                name.clone(),
                output::cell(&schema.kind),
                if input.required.contains(name) {
                    "yes"
                } else {
                    ""
                }
                .to_string(),
                output::opt(schema.description.as_deref()),
            ]
        })
        .collect();
    println!();
    output::table(&["INPUT", "TYPE", "REQUIRED", "DESCRIPTION"], rows);
}

pub fn run(client: &Client, cmd: ActionsCmd, as_json: bool) -> CliResult {
    match cmd {
        ActionsCmd::List { app } => {
            let query = ActionListQuery {
                apps: app,
                ..ActionListQuery::default()
            };
            let list: ActionListDto = client.get_with("/api/v2/actions", &query)?;
            output::print(&list, as_json, |list| {
                output::table_of(&list.items, &[NAME, APP, TITLE])
            });
        }
        ActionsCmd::Show { name } => {
            let action: ActionDto = client.get(&format!("/api/v2/actions/{}", enc(&name)))?;
            output::print(&action, as_json, show);
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
            let body = ExecuteBody {
                entity_id: entity,
                connected_account_id: connection,
                input: Some(input),
                ..ExecuteBody::default()
            };
            let result: ActionResultDto =
                client.post(&format!("/api/v2/actions/{}/execute", enc(&name)), &body)?;
            output::print(&result, as_json, |result| output::json(&result.data));
            if !result.successful {
                return Err(CliError::new(format!(
                    "the action did not succeed: {}",
                    output::opt(result.error.as_deref())
                )));
            }
        }
    }
    Ok(())
}
