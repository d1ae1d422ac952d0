//! `keyport keys create | list | revoke`.

use clap::Subcommand;
use serde_json::json;

use super::client::{Client, enc};
use super::{CliResult, output};

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
            let key = client.post(
                "/api/v1/keys",
                &json!({"name": name, "permission": permission, "entityId": entity}),
            )?;
            if as_json {
                output::json(&key);
            } else {
                output::details(
                    &key,
                    &[
                        ("id", "id"),
                        ("name", "name"),
                        ("permission", "permission"),
                        ("entity", "entityId"),
                    ],
                );
                println!(
                    "\n{}\n\nThis key is shown once; store it now.",
                    output::cell(&key["key"])
                );
            }
        }
        KeysCmd::List => {
            let keys = client.get("/api/v1/keys")?;
            if as_json {
                output::json(&keys);
            } else {
                output::table(
                    &[
                        "ID",
                        "NAME",
                        "PREFIX",
                        "PERMISSION",
                        "ENTITY",
                        "CREATED",
                        "REVOKED",
                    ],
                    output::rows(
                        &keys,
                        &[
                            "id",
                            "name",
                            "prefix",
                            "permission",
                            "entityId",
                            "createdAt",
                            "revokedAt",
                        ],
                    ),
                );
            }
        }
        KeysCmd::Revoke { id } => {
            let key = client.delete(&format!("/api/v1/keys/{}", enc(&id)))?;
            if as_json {
                output::json(&key);
            } else {
                println!(
                    "revoked API key {} ({})",
                    output::cell(&key["id"]),
                    output::cell(&key["name"])
                );
            }
        }
    }
    Ok(())
}
