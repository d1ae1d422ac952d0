//! `keyport mcp`: keyport as an MCP server. `keyport mcp serve --entity E` speaks MCP over
//! stdio, the way desktop hosts (Claude Desktop and Code, Cursor, VS Code) spawn their
//! servers, and acts for one entity. Like every CLI subcommand but `serve` and `passwd`, it
//! is a client of the running server's API: the vault stays in `keyport serve`, tools act
//! through the proxy and actions endpoints, and no credential ever reaches the host.
//!
//! Tool calls run under an API key of `use` permission restricted to the entity: the one
//! `--key-file` holds, or one minted for the session with the admin key (named after the
//! entity and the process, so the audit trail shows who acted) and revoked when the session
//! ends. The admin key itself never runs a tool call. `session` owns that key, `api` the
//! way tools reach the server, `handler` the protocol; the tools are `crate::mcp`'s.

mod api;
mod bridge;
mod handler;
mod remote;
mod session;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::client::Client;
use super::{CliError, CliResult};
use crate::mcp::Calls;
use crate::providers::Catalog;

#[derive(Subcommand, Debug)]
pub enum McpCmd {
    /// Serve MCP over stdio for one entity: what an MCP host spawns.
    Serve(ServeArgs),
    /// Add a remote MCP server: discover its OAuth authorization server and register
    /// keyport there.
    Add(remote::AddArgs),
    /// The remote MCP servers keyport holds logins for.
    Servers,
    /// Sign an entity in to a remote MCP server (browser).
    Connect(remote::ConnectServerArgs),
    /// Stand in for a remote MCP server over stdio, with keyport's login: what a host
    /// spawns instead of the server's URL.
    Bridge(BridgeArgs),
}

#[derive(Args, Debug)]
pub struct BridgeArgs {
    /// The server's name (`keyport mcp servers`).
    pub name: String,
    /// The entity whose login to use.
    #[arg(long, default_value = "default")]
    pub entity: String,
    /// A file holding an API key of `use` permission restricted to the entity (default: a
    /// key minted for this bridge with the admin key, revoked when it exits).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The entity whose connections the tools act through.
    #[arg(long)]
    pub entity: String,
    /// A file holding an API key of `use` permission restricted to the entity (default: a
    /// key minted for this session with the admin key, revoked when the session ends).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

pub fn run(
    data_dir: Option<PathBuf>,
    url: Option<String>,
    cmd: McpCmd,
    as_json: bool,
) -> CliResult {
    let admin = || Client::connect(data_dir.clone(), url.clone());
    match cmd {
        McpCmd::Serve(args) => serve(data_dir, url, args),
        McpCmd::Add(args) => remote::add(&admin()?, args, as_json),
        McpCmd::Servers => remote::list(&admin()?, as_json),
        McpCmd::Connect(args) => remote::connect(&admin()?, args, as_json),
        McpCmd::Bridge(args) => bridge(data_dir, url, args),
    }
}

fn bridge(data_dir: Option<PathBuf>, url: Option<String>, args: BridgeArgs) -> CliResult {
    let entity = args.entity.trim().to_string();
    if entity.is_empty() {
        return Err(CliError::new("--entity must not be empty"));
    }
    let purpose = format!("mcp bridge {}", args.name);
    let (session, client, _) =
        session::Session::open(data_dir, url, &entity, args.key_file.as_deref(), &purpose)?;
    let bridged = bridge::run(client, &args.name, &entity);
    let closed = session.close();
    bridged.and(closed)
}

fn serve(data_dir: Option<PathBuf>, url: Option<String>, args: ServeArgs) -> CliResult {
    let entity = args.entity.trim().to_string();
    if entity.is_empty() {
        return Err(CliError::new("--entity must not be empty"));
    }
    // The same actions as the server of this data dir: built-in and the user's.
    let dir =
        crate::config::data_dir(data_dir.clone()).map_err(|e| CliError::new(e.to_string()))?;
    let (catalog, _) = Catalog::load(&dir.join(crate::config::PROVIDERS_DIR));
    let actions = super::serve::load_actions(&dir, &catalog)?;
    let (session, client, restrictions) = session::Session::open(
        data_dir,
        url,
        &entity,
        args.key_file.as_deref(),
        "mcp serve",
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the runtime: {e}")))?;
    let calls = Calls::new(api::Api::new(client, actions, restrictions), entity);
    let served = runtime.block_on(handler::serve_stdio(calls));
    drop(runtime);
    let closed = session.close();
    served.and(closed)
}
