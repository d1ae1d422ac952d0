//! `keyport integrations add | list | show | rm`.

use clap::Subcommand;
use serde_json::Value;

use super::client::{Client, enc};
use super::{CliResult, output, parse_pairs, passphrase};
use crate::http::dto::{
    CreateIntegrationBody, DeletedIntegrationDto, IntegrationDto, IntegrationListQuery, Page,
};

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

fn show(integration: &IntegrationDto) {
    output::details(&[
        ("id", integration.id.clone()),
        ("name", integration.name.clone()),
        ("app", integration.app_name.clone()),
        ("scheme", integration.auth_scheme.to_string()),
        ("enabled", integration.enabled.to_string()),
        ("base url", integration.base_url.clone()),
        ("scopes", integration.scopes.join(",")),
        (
            "redirect uri",
            output::opt(integration.callback_url.as_deref()),
        ),
        ("created", integration.created_at.clone()),
    ]);
    output::pairs(
        "config",
        integration
            .auth_config
            .iter()
            .map(|(key, value)| (key, output::cell(value))),
    );
    if !integration.expected_input_fields.is_empty() {
        println!("a connection supplies");
        for f in &integration.expected_input_fields {
            let required = if f.required { "required" } else { "optional" };
            let secret = if f.is_secret { ", secret" } else { "" };
            println!("  {} ({required}{secret}): {}", f.name, f.description);
        }
    }
    if let Some(uri) = &integration.callback_url {
        println!("\nRegister this redirect URI with the provider's OAuth app:\n  {uri}");
    }
}

fn print_list(list: &Page<IntegrationDto>, as_json: bool) {
    output::print(list, as_json, |list| {
        let headers = ["ID", "NAME", "APP", "SCHEME", "ENABLED", "CREATED"];
        output::table_of(&headers, &list.items, |i| {
            vec![
                i.id.clone(),
                i.name.clone(),
                i.app_name.clone(),
                i.auth_scheme.to_string(),
                i.enabled.to_string(),
                i.created_at.clone(),
            ]
        })
    })
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
            let body = CreateIntegrationBody {
                app_name: Some(app),
                auth_scheme: scheme,
                name,
                auth_config: Some(config),
                ..CreateIntegrationBody::default()
            };
            let created: IntegrationDto = client.post("/api/v1/integrations", &body)?;
            output::print(&created, as_json, show);
        }
        IntegrationsCmd::List { app, all } => {
            let query = IntegrationListQuery {
                app_name: app,
                show_disabled: Some(all),
                ..IntegrationListQuery::default()
            };
            print_list(&client.get_with("/api/v1/integrations", &query)?, as_json);
        }
        IntegrationsCmd::Show { id } => {
            let integration: IntegrationDto =
                client.get(&format!("/api/v1/integrations/{}", enc(&id)))?;
            output::print(&integration, as_json, show);
        }
        IntegrationsCmd::Rm { id } => {
            let result: DeletedIntegrationDto =
                client.delete(&format!("/api/v1/integrations/{}", enc(&id)))?;
            output::print(&result, as_json, |result| {
                println!(
                    "deleted integration {id} and {} connection(s)",
                    result.deleted_connections
                )
            });
        }
    }
    Ok(())
}
