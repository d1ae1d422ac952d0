//! The command line. `serve`, `passwd` and `migrate` open the vault themselves; every other
//! subcommand is a client of the running server's API, authenticated with `admin.key`.
//! One file per noun.

mod actions;
mod approvals;
mod apps;
mod audit;
mod client;
mod connect;
mod connections;
mod events;
mod integrations;
mod keys;
mod mcp;
mod migrate;
mod output;
mod passphrase;
mod passwd;
mod proxy;
pub mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use client::Client;

#[derive(Parser, Debug)]
#[command(
    name = "keyport",
    version,
    about = "A self-hosted credential vault for AI agents"
)]
pub struct Cli {
    /// Data directory (default: the platform data dir, e.g. ~/.local/share/keyport).
    #[arg(long, global = true, env = "KEYPORT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// URL of a running keyport (default: the address `keyport serve` recorded in the data dir).
    #[arg(long, global = true, env = "KEYPORT_URL")]
    pub url: Option<String>,

    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Unlock the vault and serve the API and the OAuth pages.
    Serve(serve::ServeArgs),
    /// Change the vault passphrase (re-wraps the data key; nothing else is rewritten).
    Passwd(passwd::PasswdArgs),
    /// Copy the vault into another database (PostgreSQL or a SQLite file), sealed records
    /// as they are, then check the copy opens and matches.
    Migrate(migrate::MigrateArgs),
    /// Manage integrations (one app's auth configuration).
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCmd),
    /// Manage connections (an entity's connected accounts).
    #[command(subcommand)]
    Connections(connections::ConnectionsCmd),
    /// Follow connection status changes as they happen (one line per event).
    Events(events::EventsArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Browse the provider catalog.
    #[command(subcommand)]
    Apps(apps::AppsCmd),
    /// Connect an entity to an app: prints the link, opens the browser, waits until ACTIVE or FAILED.
    Connect(connect::ConnectArgs),
    /// Named actions (Composio-style tools): list, show, run for an entity.
    #[command(subcommand)]
    Actions(actions::ActionsCmd),
    /// Send one request through a connection with its credential injected (curl-like).
    Proxy(proxy::ProxyArgs),
    /// keyport as an MCP server: tools that act for one entity, no credential shown.
    #[command(subcommand)]
    Mcp(mcp::McpCmd),
    /// Requests held for your approval (keys created with --approval writes).
    Approvals(approvals::ApprovalsArgs),
    /// Let a held request go to the provider.
    Approve { id: String },
    /// Refuse a held request: the agent gets a 403, the provider sees nothing.
    Deny { id: String },
    /// The audit log: records (filters, --follow) or `verify`.
    Audit(audit::AuditArgs),
}

/// A failure to report to the user: a message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    pub fn with_code(message: impl Into<String>, code: u8) -> Self {
        CliError {
            message: message.into(),
            code,
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::new(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

pub fn run(cli: Cli) -> ExitCode {
    let result =
        match cli.command {
            Command::Serve(args) => serve::run(cli.data_dir, args),
            Command::Apps(cmd) => {
                Client::connect(cli.data_dir, cli.url).and_then(|c| apps::run(&c, cmd, cli.json))
            }
            Command::Connect(args) => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| connect::run(&c, args, cli.json)),
            Command::Passwd(args) => passwd::run(cli.data_dir, args),
            Command::Migrate(args) => migrate::run(cli.data_dir, args),
            Command::Integrations(cmd) => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| integrations::run(&c, cmd, cli.json)),
            Command::Connections(cmd) => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| connections::run(&c, cmd, cli.json)),
            Command::Events(args) => Client::connect(cli.data_dir, cli.url)
                .and_then(|client| events::run(&client, args, cli.json)),
            Command::Keys(cmd) => {
                Client::connect(cli.data_dir, cli.url).and_then(|c| keys::run(&c, cmd, cli.json))
            }
            Command::Actions(cmd) => {
                Client::connect(cli.data_dir, cli.url).and_then(|c| actions::run(&c, cmd, cli.json))
            }
            Command::Proxy(args) => {
                Client::connect(cli.data_dir, cli.url).and_then(|c| proxy::run(&c, args, cli.json))
            }
            Command::Mcp(cmd) => mcp::run(cli.data_dir, cli.url, cmd, cli.json),
            Command::Approvals(args) => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| approvals::list(&c, args, cli.json)),
            Command::Approve { id } => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| approvals::answer(&c, &id, true, cli.json)),
            Command::Deny { id } => Client::connect(cli.data_dir, cli.url)
                .and_then(|c| approvals::answer(&c, &id, false, cli.json)),
            Command::Audit(args) => {
                Client::connect(cli.data_dir, cli.url).and_then(|c| audit::run(&c, args, cli.json))
            }
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyport: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// Parses `key=value` pairs given with `--set`.
pub fn parse_pairs(
    pairs: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>, CliError> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CliError::new(format!("--set {pair:?}: expected key=value")))?;
        // JSON values (true, 3, ["a"], {"k":"v"}) are taken as such; anything else is a string.
        let parsed = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v) if !v.is_string() => v,
            _ => serde_json::Value::String(value.to_string()),
        };
        map.insert(key.trim().to_string(), parsed);
    }
    Ok(map)
}
