//! `keyport keys create | list | revoke`.

use clap::{Args, Subcommand};

use super::client::{Client, enc};
use super::output::Field;
use super::{CliError, CliResult, output};
use crate::http::dto::{
    ApiKeyDto, CreateKeyBody, CreatedApiKeyDto, Page, RevokeKeysBody, RevokedKeysDto,
};

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create an API key (shown once).
    Create(CreateArgs),
    /// List API keys (never their values).
    List,
    /// Revoke an API key, or with --all every key that is not an admin key.
    Revoke {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Revoke every non-admin key at once (the panic button).
        #[arg(long)]
        all: bool,
    },
}

/// `keyport keys create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    name: String,
    /// use: act through keyport; manage: also change connections; reveal: also read live
    /// credentials; admin: everything.
    #[arg(long, default_value = "use")]
    permission: String,
    /// Restrict the key to one entity's connections.
    #[arg(long)]
    entity: Option<String>,
    /// The key stops working this many seconds from now.
    #[arg(long, conflicts_with = "expires_at")]
    expires_in: Option<u64>,
    /// The key stops working at this RFC 3339 instant.
    #[arg(long)]
    expires_at: Option<String>,
    /// Apps the key may act on (comma-separated app keys).
    #[arg(long, value_delimiter = ',')]
    allowed_apps: Option<Vec<String>>,
    /// Named actions the key may run (comma-separated).
    #[arg(long, value_delimiter = ',')]
    allowed_actions: Option<Vec<String>>,
    /// Methods the key may send through the proxy (comma-separated; GET,HEAD: read-only).
    #[arg(long, value_delimiter = ',')]
    allowed_methods: Option<Vec<String>>,
    /// `writes`: hold each request that is not a read until you approve it
    /// (`keyport approvals`, `keyport approve ID`).
    #[arg(long)]
    approval: Option<String>,
}

const ID: Field<ApiKeyDto> = ("id", |k| k.id.clone());
const NAME: Field<ApiKeyDto> = ("name", |k| k.name.clone());
const PREFIX: Field<ApiKeyDto> = ("prefix", |k| k.prefix.clone());
const PERMISSION: Field<ApiKeyDto> = ("permission", |k| k.permission.to_string());
const ENTITY: Field<ApiKeyDto> = ("entity", |k| output::opt(k.entity_id.as_deref()));
const EXPIRES: Field<ApiKeyDto> = ("expires", |k| output::opt(k.expires_at.as_deref()));
const APPS: Field<ApiKeyDto> = ("apps", |k| {
    k.allowed_apps.as_deref().unwrap_or_default().join(",")
});
const ACTIONS: Field<ApiKeyDto> = ("actions", |k| {
    k.allowed_actions.as_deref().unwrap_or_default().join(",")
});
const METHODS: Field<ApiKeyDto> = ("methods", |k| {
    let methods = k.allowed_methods.as_deref().unwrap_or_default();
    methods
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
});
const CREATED: Field<ApiKeyDto> = ("created", |k| k.created_at.clone());
const REVOKED: Field<ApiKeyDto> = ("revoked", |k| output::opt(k.revoked_at.as_deref()));

fn create(client: &Client, args: CreateArgs, as_json: bool) -> CliResult {
    let body = CreateKeyBody {
        name: args.name,
        permission: Some(args.permission),
        entity_id: args.entity,
        expires_in: args.expires_in.map(|s| s as f64),
        expires_at: args.expires_at,
        allowed_apps: args.allowed_apps,
        allowed_actions: args.allowed_actions,
        allowed_methods: args.allowed_methods,
        approval: args.approval,
    };
    let key: CreatedApiKeyDto = client.post("/api/v1/keys", &body)?;
    output::print(&key, as_json, |key| {
        let fields = [
            ID, NAME, PERMISSION, ENTITY, EXPIRES, APPS, ACTIONS, METHODS,
        ];
        output::details_of(&key.record, &fields);
        println!("\n{}\n\nThis key is shown once; store it now.", key.key);
    });
    Ok(())
}

fn revoke(client: &Client, id: Option<String>, all: bool, as_json: bool) -> CliResult {
    if all {
        let done: RevokedKeysDto = client.post("/api/v1/keys/revoke", &RevokeKeysBody { all })?;
        output::print(&done, as_json, |done| {
            println!(
                "revoked {} API keys (every key but the admin keys)",
                done.revoked
            )
        });
        return Ok(());
    }
    let id = id.ok_or_else(|| CliError::new("give a key id, or --all"))?;
    let key: ApiKeyDto = client.delete(&format!("/api/v1/keys/{}", enc(&id)))?;
    output::print(&key, as_json, |key| {
        println!("revoked API key {} ({})", key.id, key.name)
    });
    Ok(())
}

pub fn run(client: &Client, cmd: KeysCmd, as_json: bool) -> CliResult {
    match cmd {
        KeysCmd::Create(args) => create(client, args, as_json)?,
        KeysCmd::List => {
            let keys: Page<ApiKeyDto> = client.get("/api/v1/keys")?;
            output::print(&keys, as_json, |keys| {
                let columns = [
                    ID, NAME, PREFIX, PERMISSION, ENTITY, EXPIRES, APPS, ACTIONS, METHODS, CREATED,
                    REVOKED,
                ];
                output::table_of(&keys.items, &columns)
            });
        }
        KeysCmd::Revoke { id, all } => revoke(client, id, all, as_json)?,
    }
    Ok(())
}
