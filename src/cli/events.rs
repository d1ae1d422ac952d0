//! `keyport events`: follows the server's connection status events (`GET /api/v1/events`)
//! and prints one line per event: for people `time  id  app  entity  account  OLD -> NEW
//! (reason)`, with `--json` the event's JSON on one line (JSON Lines). When the stream
//! ends (the server restarted) it reconnects and resumes after the last event printed;
//! when the server is gone it stops with an error.

use std::io::BufRead;
use std::time::Duration;

use clap::Args;

use super::{CliError, CliResult, Client};
use crate::http::dto::StatusEventDto;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Resume after this event id (the `id` of the last event seen).
    #[arg(long, value_name = "ID")]
    pub after: Option<u64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// One event as a person reads it.
fn line(e: &StatusEventDto) -> String {
    let from = e.old_status.map_or("new", |s| s.0.as_str());
    let reason = e
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    format!(
        "{}  {}  {}  {}  {}  {from} -> {}{reason}",
        e.at,
        e.id,
        e.app_name,
        e.entity_id,
        e.connected_account_id,
        e.new_status.0.as_str()
    )
}

pub fn run(client: &Client, args: EventsArgs, as_json: bool) -> CliResult {
    let mut last = args.after;
    let mut printed = 0u64;
    loop {
        let reader = client.stream("/api/v1/events", last)?;
        for text in reader.lines() {
            // A broken stream is a dropped connection: reconnect below.
            let Ok(text) = text else { break };
            let Some(data) = text.strip_prefix("data:") else {
                continue;
            };
            let event: StatusEventDto = serde_json::from_str(data.trim())
                .map_err(|e| CliError::new(format!("unreadable event from the server: {e}")))?;
            if as_json {
                println!("{}", data.trim());
            } else {
                println!("{}", line(&event));
            }
            last = Some(event.id);
            printed += 1;
            if args.limit.is_some_and(|limit| printed >= limit) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
