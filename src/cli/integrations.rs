//! `keyport integrations add | list | show | rm`.

use clap::Subcommand;
use serde_json::Value;

use super::client::{Client, enc};
use super::output::Field;
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

const ID: Field<IntegrationDto> = ("id", |i| i.id.clone());
const NAME: Field<IntegrationDto> = ("name", |i| i.name.clone());
const APP: Field<IntegrationDto> = ("app", |i| i.app_name.clone());
const SCHEME: Field<IntegrationDto> = ("scheme", |i| i.auth_scheme.to_string());
const ENABLED: Field<IntegrationDto> = ("enabled", |i| i.enabled.to_string());
const BASE_URL: Field<IntegrationDto> = ("base url", |i| i.base_url.clone());
const SCOPES: Field<IntegrationDto> = ("scopes", |i| i.scopes.join(","));
const REDIRECT_URI: Field<IntegrationDto> =
    ("redirect uri", |i| output::opt(i.callback_url.as_deref()));
const CREATED: Field<IntegrationDto> = ("created", |i| i.created_at.clone());

fn show(integration: &IntegrationDto) {
    let fields = [
        ID,
        NAME,
        APP,
        SCHEME,
        ENABLED,
        BASE_URL,
        SCOPES,
        REDIRECT_URI,
        CREATED,
    ];
    output::details_of(integration, &fields);
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
        output::table_of(&list.items, &[ID, NAME, APP, SCHEME, ENABLED, CREATED])
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
