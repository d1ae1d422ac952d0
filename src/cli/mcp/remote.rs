//! `keyport mcp add`, `keyport mcp servers` and `keyport mcp connect`: remote MCP servers
//! whose logins keyport holds, as the API's `/api/v1/mcp/servers` gives them.

use std::path::PathBuf;

use clap::Args;

use crate::cli::client::Client;
use crate::cli::connect::{self, ConnectArgs};
use crate::cli::output::{self, Field};
use crate::cli::{CliError, CliResult};
use crate::config;
use crate::http::dto::{AddMcpServerBody, AddedMcpServerDto, McpServerDto, Page};
use crate::service::MCP_APP;

#[derive(Args, Debug)]
pub struct AddArgs {
    /// What `keyport mcp bridge NAME` will call it (A-Z, a-z, 0-9, '-', '_', '.').
    pub name: String,
    /// The server's Streamable HTTP endpoint, e.g. https://mcp.linear.app/mcp. (Not named
    /// `url`: that is the global `--url` of keyport itself.)
    #[arg(value_name = "URL")]
    pub server_url: String,
    /// A client you registered by hand at the server's authorization server (default:
    /// keyport registers itself there).
    #[arg(long)]
    pub client_id: Option<String>,
    /// A file holding that client's secret, if it has one.
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// An https URL where keyport's Client ID Metadata Document is published; used where
    /// the authorization server prefers those documents.
    #[arg(long)]
    pub client_metadata_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct ConnectServerArgs {
    /// The server's name.
    pub name: String,
    /// Entity whose login this is (default: "default").
    #[arg(long)]
    pub entity: Option<String>,
    /// Do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

const SERVER: [Field<McpServerDto>; 6] = [
    ("name", |s| s.name.clone()),
    ("url", |s| s.url.clone()),
    ("issuer", |s| s.issuer.clone()),
    ("client id", |s| s.client_id.clone()),
    ("scopes", |s| s.scopes.join(" ")),
    ("redirect uri", |s| s.callback_url.clone()),
];

pub fn add(client: &Client, args: AddArgs, as_json: bool) -> CliResult {
    let client_secret = match &args.client_secret_file {
        Some(path) => Some(
            config::read_trimmed(path)?
                .ok_or_else(|| CliError::new(format!("no client secret in {}", path.display())))?,
        ),
        None => None,
    };
    let body = AddMcpServerBody {
        name: args.name,
        url: args.server_url,
        client_id: args.client_id,
        client_secret,
        client_metadata_url: args.client_metadata_url,
    };
    let added: AddedMcpServerDto = client.post("/api/v1/mcp/servers", &body)?;
    output::print(&added, as_json, |added| {
        output::details_of(&added.server, &SERVER);
        println!("enrolment     {}", added.enrolment);
        println!(
            "\nNext: sign in with `keyport mcp connect {} --entity ENTITY`, then give your MCP \
             host `keyport mcp bridge {} --entity ENTITY` as the server's command.",
            added.server.name, added.server.name
        );
    });
    Ok(())
}

fn servers_of(client: &Client) -> Result<Vec<McpServerDto>, CliError> {
    let page: Page<McpServerDto> = client.get("/api/v1/mcp/servers")?;
    Ok(page.items)
}

pub fn list(client: &Client, as_json: bool) -> CliResult {
    let servers = servers_of(client)?;
    output::print(&servers, as_json, |servers| {
        output::table_of(servers, &SERVER[..3]);
    });
    Ok(())
}

/// Signs an entity in to the server, through keyport's connect page.
pub fn connect(client: &Client, args: ConnectServerArgs, as_json: bool) -> CliResult {
    let server = servers_of(client)?
        .into_iter()
        .find(|s| s.name == args.name)
        .ok_or_else(|| {
            CliError::new(format!("keyport knows no MCP server named {:?}", args.name))
        })?;
    let connect = ConnectArgs {
        app: MCP_APP.into(),
        entity: args.entity,
        integration: Some(server.id),
        set: Vec::new(),
        no_browser: args.no_browser,
        timeout: args.timeout,
    };
    connect::run(client, connect, as_json)
}
