//! `keyport connect <app>`: start a connection for an entity, hand the user the link (and
//! open their browser when there is one), then wait until it is ACTIVE or FAILED.

use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::client::{Client, enc};
use super::{CliError, CliResult, output, parse_pairs};
use crate::clock::Deadline;

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// App key (github, gmail, slack…).
    pub app: String,
    /// Entity to connect (default: "default").
    #[arg(long)]
    pub entity: Option<String>,
    /// Integration to use (default: the newest enabled integration of the app).
    #[arg(long)]
    pub integration: Option<String>,
    /// Template variable or parameter, key=value (repeatable), e.g. subdomain=acme.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

fn pick_integration(client: &Client, app: &str) -> Result<String, CliError> {
    let list = client.get(&format!("/api/v1/integrations?appName={}", enc(app)))?;
    list["items"]
        .as_array()
        .and_then(|items| items.iter().rev().find(|i| i["enabled"].as_bool().unwrap_or(false)))
        .and_then(|i| i["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::new(format!(
                "no integration for {app} yet; add one first, e.g. `keyport integrations add {app} --client-id ID --secret client_secret`"
            ))
        })
}

/// Opens `url` in the user's browser if the platform has an opener and a display.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return false;
    }
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub fn run(client: &Client, args: ConnectArgs, as_json: bool) -> CliResult {
    let integration = match args.integration {
        Some(id) => id,
        None => pick_integration(client, &args.app)?,
    };
    let data = parse_pairs(&args.set)?;
    let created = client.post(
        "/api/v1/connectedAccounts",
        &json!({"integrationId": integration, "userUuid": args.entity, "data": data, "labels": []}),
    )?;
    let id = output::cell(&created["connectedAccountId"]);
    if let Some(link) = created["redirectUrl"].as_str() {
        eprintln!("Open this link to connect {}:\n\n  {link}\n", args.app);
        if !args.no_browser && open_browser(link) {
            eprintln!("(opened in your browser)");
        }
        eprintln!("Waiting for the connection to complete…");
    }
    let deadline = Deadline::after(Duration::from_secs(args.timeout));
    let mut connection: Value;
    loop {
        let left = deadline.remaining().as_secs().clamp(1, 60);
        connection = client.get(&format!(
            "/api/v1/connectedAccounts/{}/wait?timeout={left}",
            enc(&id)
        ))?;
        if connection["status"] != "INITIATED" || deadline.passed() {
            break;
        }
    }
    if as_json {
        output::json(&connection);
    } else {
        output::details(
            &connection,
            &[
                ("id", "id"),
                ("status", "status"),
                ("reason", "statusReason"),
                ("entity", "entityId"),
                ("app", "appName"),
            ],
        );
    }
    match connection["status"].as_str() {
        Some("ACTIVE") => Ok(()),
        Some("INITIATED") => Err(CliError::new(format!(
            "gave up waiting after {} s; the link stays valid for 10 minutes",
            args.timeout
        ))),
        Some(other) => Err(CliError::new(format!(
            "the connection is {other}: {}",
            output::cell(&connection["statusReason"])
        ))),
        None => Err(CliError::new("unexpected answer from keyport")),
    }
}
