//! `keyport keys create | list | revoke`.

use clap::Subcommand;

use super::client::{Client, enc};
use super::output::Field;
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
        /// `writes`: hold each request that is not a read until you approve it
        /// (`keyport approvals`, `keyport approve ID`).
        #[arg(long)]
        approval: Option<String>,
    },
    /// List API keys (never their values).
    List,
    /// Revoke an API key.
    Revoke { id: String },
}

const ID: Field<ApiKeyDto> = ("id", |k| k.id.clone());
const NAME: Field<ApiKeyDto> = ("name", |k| k.name.clone());
const PREFIX: Field<ApiKeyDto> = ("prefix", |k| k.prefix.clone());
const PERMISSION: Field<ApiKeyDto> = ("permission", |k| k.permission.to_string());
const ENTITY: Field<ApiKeyDto> = ("entity", |k| output::opt(k.entity_id.as_deref()));
const CREATED: Field<ApiKeyDto> = ("created", |k| k.created_at.clone());
const REVOKED: Field<ApiKeyDto> = ("revoked", |k| output::opt(k.revoked_at.as_deref()));

pub fn run(client: &Client, cmd: KeysCmd, as_json: bool) -> CliResult {
    match cmd {
        KeysCmd::Create {
            name,
            permission,
            entity,
            approval,
        } => {
            let body = CreateKeyBody {
                name,
                permission: Some(permission),
                entity_id: entity,
                approval,
            };
            let key: CreatedApiKeyDto = client.post("/api/v1/keys", &body)?;
            output::print(&key, as_json, |key| {
                output::details_of(&key.record, &[ID, NAME, PERMISSION, ENTITY]);
                println!("\n{}\n\nThis key is shown once; store it now.", key.key);
            });
        }
        KeysCmd::List => {
            let keys: Page<ApiKeyDto> = client.get("/api/v1/keys")?;
            output::print(&keys, as_json, |keys| {
                let columns = [ID, NAME, PREFIX, PERMISSION, ENTITY, CREATED, REVOKED];
                output::table_of(&keys.items, &columns)
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
