//! `keyport connections add | list | show | rm | test | enable | disable | reconnect`.

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::client::{Client, enc};
use super::output::Field;
use super::{CliResult, output, parse_pairs, passphrase};
use crate::http::dto::{
    ConnectedAccountDto, ConnectedAccountPage, ConnectionListQuery, CreateConnectionBody,
    CreatedConnectionDto, StatusDto, TestedAccountDto, UpdateConnectionBody,
};

#[derive(Subcommand, Debug)]
pub enum ConnectionsCmd {
    /// Connect an entity with a token scheme (API key, bearer token, basic…).
    Add {
        /// Integration id.
        integration: String,
        /// Entity (default: "default").
        #[arg(long)]
        entity: Option<String>,
        /// Non-secret field, key=value (repeatable): username, subdomain…
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Secret field to read from a prompt or standard input (repeatable): token, api_key, password…
        #[arg(long = "secret", value_name = "KEY")]
        secrets: Vec<String>,
        /// Label (repeatable).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Check the credential with the provider first (FAILED if refused).
        #[arg(long)]
        validate: bool,
    },
    /// List connections.
    List {
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        app: Option<String>,
        /// INITIATED, ACTIVE, INACTIVE, EXPIRED, FAILED or DELETED.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        label: Option<String>,
    },
    /// Show one connection (credentials redacted).
    Show { id: String },
    /// Delete a connection (its credentials are wiped).
    Rm { id: String },
    /// Check the credential with the provider's who-am-I endpoint (OAuth with a fresh token);
    /// never re-enables a connection the user disabled.
    Test { id: String },
    /// Re-enable a disabled connection (an EXPIRED or FAILED one needs `reconnect`).
    Enable { id: String },
    /// Edit a connection: its labels, and whether it is its entity's default for its app.
    Edit(EditArgs),
    /// Re-authorize an OAuth connection in the browser, keeping its id (for EXPIRED ones).
    Reconnect {
        id: String,
        /// Do not try to open a browser.
        #[arg(long)]
        no_browser: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Disable a connection without deleting it.
    Disable { id: String },
}

#[derive(Args, Debug)]
pub struct EditArgs {
    id: String,
    /// Label (repeatable): replaces all of them.
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Remove every label.
    #[arg(long, conflicts_with = "labels")]
    no_labels: bool,
    /// Make it the entity's default connection to its app.
    #[arg(long)]
    default: bool,
    /// Stop it being the default.
    #[arg(long, conflicts_with = "default")]
    not_default: bool,
}

const ID: Field<ConnectedAccountDto> = ("id", |c| c.id.clone());
const STATUS: Field<ConnectedAccountDto> = ("status", |c| c.status.to_string());
const REASON: Field<ConnectedAccountDto> = ("reason", |c| output::opt(c.status_reason.as_deref()));
const ENTITY: Field<ConnectedAccountDto> = ("entity", |c| c.entity_id.clone());
const APP: Field<ConnectedAccountDto> = ("app", |c| c.app_name.clone());
const SCHEME: Field<ConnectedAccountDto> = ("scheme", |c| c.auth_scheme.to_string());
const INTEGRATION: Field<ConnectedAccountDto> = ("integration", |c| c.integration_id.clone());
const LABELS: Field<ConnectedAccountDto> = ("labels", |c| c.labels.join(","));
const CREATED: Field<ConnectedAccountDto> = ("created", |c| c.created_at.clone());
const UPDATED: Field<ConnectedAccountDto> = ("updated", |c| c.updated_at.clone());

/// Who and what a connection is, and where it stands (what `keyport connect` ends with).
pub const SUMMARY: [Field<ConnectedAccountDto>; 5] = [ID, STATUS, REASON, ENTITY, APP];

fn show(c: &ConnectedAccountDto) {
    let fields = [
        ID,
        STATUS,
        REASON,
        ENTITY,
        APP,
        SCHEME,
        INTEGRATION,
        LABELS,
        CREATED,
        UPDATED,
    ];
    output::details_of(c, &fields);
    // Every key of `connectionParams`, in the order of its JSON object.
    if let Ok(Value::Object(params)) = serde_json::to_value(&c.connection_params) {
        output::pairs(
            "params",
            params.iter().map(|(key, value)| (key, output::cell(value))),
        );
    }
}

fn print(connection: &ConnectedAccountDto, as_json: bool) {
    output::print(connection, as_json, show)
}

fn account_path(id: &str, action: &str) -> String {
    format!("/api/v1/connectedAccounts/{}{action}", enc(id))
}

fn print_list(list: &ConnectedAccountPage, as_json: bool) {
    output::print(list, as_json, |list| {
        output::table_of(&list.items, &[ID, ENTITY, APP, STATUS, LABELS, UPDATED])
    })
}

/// Checks a connection's credential now; refused is an error exit.
fn test(client: &Client, id: &str, as_json: bool) -> CliResult {
    let checked: TestedAccountDto = client.post(&account_path(id, "/test"), &Map::new())?;
    output::print(&checked, as_json, |checked| {
        let verdict = if checked.check.ok {
            "accepted"
        } else {
            "REFUSED"
        };
        println!(
            "the provider {verdict} the credential (HTTP {}): {}",
            checked.check.status, checked.check.message
        );
        show(&checked.account);
    });
    if !checked.check.ok {
        return Err(super::CliError::new("the credential was refused"));
    }
    Ok(())
}

/// `keyport connections add`: creates the connection, then shows it.
fn add(client: &Client, body: &CreateConnectionBody, as_json: bool) -> CliResult {
    let created: CreatedConnectionDto = client.post("/api/v1/connectedAccounts", body)?;
    print(
        &client.get(&account_path(&created.connected_account_id, ""))?,
        as_json,
    );
    Ok(())
}

/// `keyport connections edit`: labels and the default mark, through `PATCH`.
fn edit(client: &Client, args: EditArgs, as_json: bool) -> CliResult {
    let default = match (args.default, args.not_default) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let labels = (args.no_labels || !args.labels.is_empty()).then_some(args.labels);
    if labels.is_none() && default.is_none() {
        return Err(super::CliError::new(
            "nothing to change: give --label, --no-labels, --default or --not-default",
        ));
    }
    let body = UpdateConnectionBody { labels, default };
    print(&client.patch(&account_path(&args.id, ""), &body)?, as_json);
    Ok(())
}

pub fn run(client: &Client, cmd: ConnectionsCmd, as_json: bool) -> CliResult {
    match cmd {
        ConnectionsCmd::Add {
            integration,
            entity,
            set,
            secrets,
            labels,
            validate,
        } => {
            let mut data = parse_pairs(&set)?;
            for key in secrets {
                data.insert(key.clone(), Value::String(passphrase::secret_value(&key)?));
            }
            let body = CreateConnectionBody {
                integration_id: integration,
                user_uuid: entity,
                data: Some(data),
                labels: Some(labels),
                validate: Some(validate),
                ..CreateConnectionBody::default()
            };
            add(client, &body, as_json)?;
        }
        ConnectionsCmd::List {
            entity,
            app,
            status,
            label,
        } => {
            let query = ConnectionListQuery {
                user_uuid: entity,
                app_names: app,
                status,
                labels: label,
                ..ConnectionListQuery::default()
            };
            print_list(
                &client.get_with("/api/v1/connectedAccounts", &query)?,
                as_json,
            );
        }
        ConnectionsCmd::Test { id } => test(client, &id, as_json)?,
        ConnectionsCmd::Show { id } => print(&client.get(&account_path(&id, ""))?, as_json),
        ConnectionsCmd::Enable { id } => print(
            &client.post(&account_path(&id, "/enable"), &Map::new())?,
            as_json,
        ),
        ConnectionsCmd::Disable { id } => print(
            &client.post(&account_path(&id, "/disable"), &Map::new())?,
            as_json,
        ),
        ConnectionsCmd::Edit(args) => edit(client, args, as_json)?,
        ConnectionsCmd::Reconnect {
            id,
            no_browser,
            timeout,
        } => super::connect::reconnect(client, &id, (no_browser, timeout), as_json)?,
        ConnectionsCmd::Rm { id } => {
            let result: StatusDto = client.delete(&account_path(&id, ""))?;
            output::print(&result, as_json, |_| println!("deleted connection {id}"));
        }
    }
    Ok(())
}
