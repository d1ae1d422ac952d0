//! `keyport connections add | list | show | rm | enable | disable`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc};
use super::{CliResult, output, parse_pairs, passphrase};

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
    /// Check the credential with the provider's who-am-I endpoint (API key, bearer, basic).
    Test { id: String },
    /// Re-enable a disabled connection.
    Enable { id: String },
    /// Disable a connection without deleting it.
    Disable { id: String },
}

fn show(c: &Value) {
    output::details(
        c,
        &[
            ("id", "id"),
            ("status", "status"),
            ("reason", "statusReason"),
            ("entity", "entityId"),
            ("app", "appName"),
            ("scheme", "authScheme"),
            ("integration", "integrationId"),
            ("labels", "labels"),
            ("created", "createdAt"),
            ("updated", "updatedAt"),
        ],
    );
    if let Some(params) = c["connectionParams"].as_object().filter(|p| !p.is_empty()) {
        println!("params");
        for (key, value) in params {
            println!("  {key} = {}", output::cell(value));
        }
    }
}

pub fn run(client: &Client, cmd: ConnectionsCmd, as_json: bool) -> CliResult {
    let print = |value: &Value| {
        if as_json {
            output::json(value)
        } else {
            show(value)
        }
    };
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
            let body = json!({"integrationId": integration, "userUuid": entity, "data": data, "labels": labels, "validate": validate});
            let created = client.post("/api/v1/connectedAccounts", &body)?;
            let id = output::cell(&created["connectedAccountId"]);
            let connection = client.get(&format!("/api/v1/connectedAccounts/{}", enc(&id)))?;
            print(&connection);
        }
        ConnectionsCmd::List {
            entity,
            app,
            status,
            label,
        } => {
            let mut query = vec![];
            for (key, value) in [
                ("user_uuid", entity),
                ("appNames", app),
                ("status", status),
                ("labels", label),
            ] {
                if let Some(v) = value {
                    query.push(format!("{key}={}", enc(&v)));
                }
            }
            let list = client.get(&format!("/api/v1/connectedAccounts?{}", query.join("&")))?;
            if as_json {
                output::json(&list);
            } else {
                output::table(
                    &["ID", "ENTITY", "APP", "STATUS", "LABELS", "UPDATED"],
                    output::rows(
                        &list,
                        &["id", "entityId", "appName", "status", "labels", "updatedAt"],
                    ),
                );
            }
        }
        ConnectionsCmd::Test { id } => {
            let checked = client.post(
                &format!("/api/v1/connectedAccounts/{}/test", enc(&id)),
                &json!({}),
            )?;
            if as_json {
                output::json(&checked);
            } else {
                let verdict = if checked["check"]["ok"].as_bool().unwrap_or(false) {
                    "accepted"
                } else {
                    "REFUSED"
                };
                println!(
                    "the provider {verdict} the credential (HTTP {}): {}",
                    output::cell(&checked["check"]["status"]),
                    output::cell(&checked["check"]["message"])
                );
                show(&checked);
            }
            if !checked["check"]["ok"].as_bool().unwrap_or(false) {
                return Err(super::CliError::new("the credential was refused"));
            }
        }
        ConnectionsCmd::Show { id } => {
            print(&client.get(&format!("/api/v1/connectedAccounts/{}", enc(&id)))?)
        }
        ConnectionsCmd::Enable { id } => print(&client.post(
            &format!("/api/v1/connectedAccounts/{}/enable", enc(&id)),
            &json!({}),
        )?),
        ConnectionsCmd::Disable { id } => print(&client.post(
            &format!("/api/v1/connectedAccounts/{}/disable", enc(&id)),
            &json!({}),
        )?),
        ConnectionsCmd::Rm { id } => {
            let result = client.delete(&format!("/api/v1/connectedAccounts/{}", enc(&id)))?;
            if as_json {
                output::json(&result);
            } else {
                println!("deleted connection {id}");
            }
        }
    }
    Ok(())
}
