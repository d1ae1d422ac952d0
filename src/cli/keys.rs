//! `keyport keys create | list | revoke`.

use clap::Subcommand;

use super::client::{Client, enc};
use super::{CliResult, output};
use crate::http::dto::{ApiKeyDto, CreateKeyBody, CreatedApiKeyDto, Page};

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create an API key (shown once).
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// use: act through keyport; reveal: also read live credentials; admin: also manage keys.
        #[arg(long, default_value = "use")]
        permission: String,
        /// Restrict the key to one entity's connections.
        #[arg(long)]
        entity: Option<String>,
    },
    /// List API keys (never their values).
    List,
    /// Revoke an API key.
    Revoke { id: String },
}

pub fn run(client: &Client, cmd: KeysCmd, as_json: bool) -> CliResult {
    match cmd {
        KeysCmd::Create {
            name,
            permission,
            entity,
        } => {
            let body = CreateKeyBody {
                name,
                permission: Some(permission),
                entity_id: entity,
            };
            let key: CreatedApiKeyDto = client.post("/api/v1/keys", &body)?;
            output::print(&key, as_json, |key| {
                output::details(&[
                    ("id", key.record.id.clone()),
                    ("name", key.record.name.clone()),
                    ("permission", key.record.permission.to_string()),
                    ("entity", output::opt(key.record.entity_id.as_deref())),
                ]);
                println!("\n{}\n\nThis key is shown once; store it now.", key.key);
            });
        }
        KeysCmd::List => {
            let keys: Page<ApiKeyDto> = client.get("/api/v1/keys")?;
            output::print(&keys, as_json, |keys| {
                let headers = [
                    "ID",
                    "NAME",
                    "PREFIX",
                    "PERMISSION",
                    "ENTITY",
                    "CREATED",
                    "REVOKED",
                ];
                output::table_of(&headers, &keys.items, |k| {
                    vec![
                        k.id.clone(),
                        k.name.clone(),
                        k.prefix.clone(),
                        k.permission.to_string(),
                        output::opt(k.entity_id.as_deref()),
                        k.created_at.clone(),
                        output::opt(k.revoked_at.as_deref()),
                    ]
                })
            });
        }
        KeysCmd::Revoke { id } => {
            let key: ApiKeyDto = client.delete(&format!("/api/v1/keys/{}", enc(&id)))?;
            output::print(&key, as_json, |key| {
                println!("revoked API key {} ({})", key.id, key.name)
            });
        }
    }
    Ok(())
}
