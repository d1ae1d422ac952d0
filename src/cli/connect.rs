//! `keyport connect <app>`: start a connection for an entity, hand the user the link (and
//! open their browser when there is one), then wait until it is ACTIVE or FAILED.
//! `keyport connections reconnect ID` does the same for an existing OAuth connection.

use std::time::Duration;

use clap::Args;

use super::client::{Client, enc};
use super::{CliError, CliResult, connections, output, parse_pairs};
use crate::clock::Deadline;
use crate::http::dto::{
    ConnectedAccountDto, CreateConnectionBody, CreatedConnectionDto, IntegrationDto,
    IntegrationListQuery, Page, ReconnectBody, WaitQuery,
};
use crate::service::ConnectionStatus;

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
    let query = IntegrationListQuery {
        app_name: Some(app.to_string()),
        ..IntegrationListQuery::default()
    };
    let list: Page<IntegrationDto> = client.get_with("/api/v1/integrations", &query)?;
    list.items
        .into_iter()
        .rev()
        .find(|i| i.enabled)
        .map(|i| i.id)
        .ok_or_else(|| {
            CliError::new(format!(
                "no integration for {app} yet; add one first, e.g. `keyport integrations add {app} --client-id ID --secret client_secret`"
            ))
        })
}

/// Opens `url` in the user's browser if the platform has an opener and a display.
pub(super) fn open_browser(url: &str) -> bool {
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

/// Waits until the connection leaves INITIATED or `deadline` passes.
fn wait_for(
    client: &Client,
    id: &str,
    deadline: Deadline,
) -> Result<ConnectedAccountDto, CliError> {
    loop {
        let left = deadline.remaining().as_secs().clamp(1, 60);
        let query = WaitQuery {
            timeout: Some(left),
        };
        let connection: ConnectedAccountDto = client.get_with(
            &format!("/api/v1/connectedAccounts/{}/wait", enc(id)),
            &query,
        )?;
        if connection.status.0 != ConnectionStatus::Initiated || deadline.passed() {
            return Ok(connection);
        }
    }
}

/// Hands the user a flow's link, opening their browser unless told not to.
fn hand_over(link: &str, what: &str, no_browser: bool) {
    eprintln!("Open this link to {what}:\n\n  {link}\n");
    if !no_browser && open_browser(link) {
        eprintln!("(opened in your browser)");
    }
}

/// `keyport connections reconnect ID`: a new browser flow for the connection, then a wait
/// until it has new credentials (a failed flow leaves it as it was, so the wait ends only
/// on success or at `timeout` seconds).
pub fn reconnect(
    client: &Client,
    id: &str,
    (no_browser, timeout): (bool, u64),
    as_json: bool,
) -> CliResult {
    let path = format!("/api/v1/connectedAccounts/{}", enc(id));
    let before: ConnectedAccountDto = client.get(&path)?;
    let created: CreatedConnectionDto =
        client.post(&format!("{path}/reconnect"), &ReconnectBody::default())?;
    let link = created.redirect_url.unwrap_or_default();
    hand_over(&link, &format!("reconnect {}", before.app_name), no_browser);
    eprintln!("Waiting for the new authorization…");
    let deadline = Deadline::after(Duration::from_secs(timeout));
    loop {
        let now: ConnectedAccountDto = client.get(&path)?;
        if now.status.0 == ConnectionStatus::Active && now.updated_at != before.updated_at {
            output::print(&now, as_json, |now| {
                output::details_of(now, &connections::SUMMARY)
            });
            return Ok(());
        }
        if deadline.passed() {
            return Err(CliError::new(format!(
                "gave up waiting after {timeout} s; the connection is still {} and the link stays valid for 10 minutes",
                now.status
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

pub fn run(client: &Client, args: ConnectArgs, as_json: bool) -> CliResult {
    let integration = match args.integration {
        Some(id) => id,
        None => pick_integration(client, &args.app)?,
    };
    let body = CreateConnectionBody {
        integration_id: integration,
        user_uuid: args.entity,
        data: Some(parse_pairs(&args.set)?),
        labels: Some(Vec::new()),
        ..CreateConnectionBody::default()
    };
    let created: CreatedConnectionDto = client.post("/api/v1/connectedAccounts", &body)?;
    if let Some(link) = &created.redirect_url {
        hand_over(link, &format!("connect {}", args.app), args.no_browser);
        eprintln!("Waiting for the connection to complete…");
    }
    let deadline = Deadline::after(Duration::from_secs(args.timeout));
    let connection = wait_for(client, &created.connected_account_id, deadline)?;
    output::print(&connection, as_json, |connection| {
        output::details_of(connection, &connections::SUMMARY)
    });
    match connection.status.0 {
        ConnectionStatus::Active => Ok(()),
        ConnectionStatus::Initiated => Err(CliError::new(format!(
            "gave up waiting after {} s; the link stays valid for 10 minutes",
            args.timeout
        ))),
        other => Err(CliError::new(format!(
            "the connection is {other}: {}",
            output::opt(connection.status_reason.as_deref())
        ))),
    }
}
