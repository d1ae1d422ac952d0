//! `keyport integrations add | list | show | rm`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc};
use super::{CliResult, output, parse_pairs, passphrase};

#[derive(Subcommand, Debug)]
pub enum IntegrationsCmd {
    /// Add an integration for an app from the catalog, e.g. `add github --client-id X --secret client_secret`.
    Add {
        /// App key (github, gmail, slack…).
        app: String,
        /// Auth scheme (default: the app's first).
        #[arg(long)]
        scheme: Option<String>,
        /// Integration name (default: APP_<timestamp>).
        #[arg(long)]
        name: Option<String>,
        /// OAuth client id.
        #[arg(long)]
        client_id: Option<String>,
        /// Non-secret config field, key=value (repeatable): scopes, base_url, token_url…
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Secret config field to read from a prompt or standard input (repeatable), e.g. client_secret.
        #[arg(long = "secret", value_name = "KEY")]
        secrets: Vec<String>,
    },
    /// List integrations.
    List {
        /// Only this app.
        #[arg(long)]
        app: Option<String>,
        /// Include disabled integrations.
        #[arg(long)]
        all: bool,
    },
    /// Show one integration, with the redirect URI to register at the provider.
    Show { id: String },
    /// Delete an integration and every connection made through it.
    Rm { id: String },
}

fn show(integration: &Value) {
    output::details(
        integration,
        &[
            ("id", "id"),
            ("name", "name"),
            ("app", "appName"),
            ("scheme", "authScheme"),
            ("enabled", "enabled"),
            ("base url", "baseUrl"),
            ("scopes", "scopes"),
            ("redirect uri", "callbackUrl"),
            ("created", "createdAt"),
        ],
    );
    if let Some(config) = integration["authConfig"]
        .as_object()
        .filter(|c| !c.is_empty())
    {
        println!("config");
        for (key, value) in config {
            println!("  {key} = {}", output::cell(value));
        }
    }
    if let Some(fields) = integration["expectedInputFields"]
        .as_array()
        .filter(|f| !f.is_empty())
    {
        println!("a connection supplies");
        for f in fields {
            let required = if f["required"].as_bool().unwrap_or(false) {
                "required"
            } else {
                "optional"
            };
            let secret = if f["is_secret"].as_bool().unwrap_or(false) {
                ", secret"
            } else {
                ""
            };
            println!(
                "  {} ({required}{secret}): {}",
                output::cell(&f["name"]),
                output::cell(&f["description"])
            );
        }
    }
    if let Some(uri) = integration["callbackUrl"].as_str() {
        println!("\nRegister this redirect URI with the provider's OAuth app:\n  {uri}");
    }
}

pub fn run(client: &Client, cmd: IntegrationsCmd, as_json: bool) -> CliResult {
    match cmd {
        IntegrationsCmd::Add {
            app,
            scheme,
            name,
            client_id,
            set,
            secrets,
        } => {
            let mut config = parse_pairs(&set)?;
            if let Some(id) = client_id {
                config.insert("client_id".into(), Value::String(id));
            }
            for key in secrets {
                config.insert(key.clone(), Value::String(passphrase::secret_value(&key)?));
            }
            let body =
                json!({"appName": app, "authScheme": scheme, "name": name, "authConfig": config});
            let created = client.post("/api/v1/integrations", &body)?;
            if as_json {
                output::json(&created);
            } else {
                show(&created);
            }
        }
        IntegrationsCmd::List { app, all } => {
            let mut path = format!("/api/v1/integrations?showDisabled={all}");
            if let Some(app) = app {
                path.push_str(&format!("&appName={}", enc(&app)));
            }
            let list = client.get(&path)?;
            if as_json {
                output::json(&list);
            } else {
                output::table(
                    &["ID", "NAME", "APP", "SCHEME", "ENABLED", "CREATED"],
                    output::rows(
                        &list,
                        &[
                            "id",
                            "name",
                            "appName",
                            "authScheme",
                            "enabled",
                            "createdAt",
                        ],
                    ),
                );
            }
        }
        IntegrationsCmd::Show { id } => {
            let integration = client.get(&format!("/api/v1/integrations/{}", enc(&id)))?;
            if as_json {
                output::json(&integration);
            } else {
                show(&integration);
            }
        }
        IntegrationsCmd::Rm { id } => {
            let result = client.delete(&format!("/api/v1/integrations/{}", enc(&id)))?;
            if as_json {
                output::json(&result);
            } else {
                println!(
                    "deleted integration {id} and {} connection(s)",
                    output::cell(&result["deletedConnections"])
                );
            }
        }
    }
    Ok(())
}
