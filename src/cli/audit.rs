//! `keyport audit [filters] [--follow]` and `keyport audit verify`.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::client::Client;
use super::output::{self, Field};
use super::{CliError, CliResult};
use crate::http::dto::{AuditPageDto, AuditQueryParams, AuditRecordDto, AuditVerdictDto};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCmd>,
    /// Only this entity's records.
    #[arg(long)]
    pub entity: Option<String>,
    /// Only this connection's records.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only this API key's records (its id).
    #[arg(long)]
    pub key: Option<String>,
    /// Records at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Records before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many records (without --follow).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Keep printing records as they are written.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the chain: exit 0 if intact, else 3 and the first broken record.
    Verify,
}

const SEQ: Field<AuditRecordDto> = ("seq", |r| r.seq.to_string());
const AT: Field<AuditRecordDto> = ("at", |r| r.at.clone());
const EVENT: Field<AuditRecordDto> = ("event", |r| r.event.clone());
const KEY: Field<AuditRecordDto> = ("key", |r| output::opt(r.key_name.as_deref()));
const ENTITY: Field<AuditRecordDto> = ("entity", |r| output::opt(r.entity_id.as_deref()));
const APP: Field<AuditRecordDto> = ("app", |r| output::opt(r.app.as_deref()));
const WHAT: Field<AuditRecordDto> = ("request", request_of);
const OUTCOME: Field<AuditRecordDto> = ("outcome", outcome_of);
const MS: Field<AuditRecordDto> = ("ms", |r| {
    r.latency_ms.map_or("-".into(), |ms| ms.to_string())
});
const COLUMNS: [Field<AuditRecordDto>; 9] = [SEQ, AT, EVENT, KEY, ENTITY, APP, WHAT, OUTCOME, MS];

fn request_of(r: &AuditRecordDto) -> String {
    let line = [&r.action, &r.method, &r.host, &r.path]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if line.is_empty() { "-".into() } else { line }
}

fn outcome_of(r: &AuditRecordDto) -> String {
    let mut text = r.outcome.clone();
    if let Some(status) = r.status {
        text.push_str(&format!(" {status}"));
    }
    if let Some(detail) = &r.detail {
        text.push_str(&format!(" ({detail})"));
    }
    text
}

pub fn run(client: &Client, args: AuditArgs, as_json: bool) -> CliResult {
    if let Some(AuditCmd::Verify) = args.command {
        return verify(client, as_json);
    }
    let mut query = AuditQueryParams {
        entity_id: args.entity,
        connection_id: args.connection,
        key_id: args.key,
        since: args.since,
        until: args.until,
        cursor: None,
        limit: Some(args.limit),
    };
    let page: AuditPageDto = client.get_with("/api/v1/audit", &query)?;
    if !args.follow {
        output::print(&page, as_json, |page| {
            output::table_of(&page.items, &COLUMNS)
        });
        return Ok(());
    }
    query.limit = Some(crate::service::MAX_AUDIT_PAGE);
    let mut page = page;
    loop {
        for record in &page.items {
            print_line(record, as_json);
        }
        if let Some(last) = page.items.last() {
            query.cursor = Some(last.seq.to_string());
        }
        if page.next_cursor.is_none() {
            std::thread::sleep(Duration::from_secs(1));
        }
        page = client.get_with("/api/v1/audit", &query)?;
    }
}

fn print_line(record: &AuditRecordDto, as_json: bool) {
    if as_json {
        output::json_line(record);
    } else {
        let cells: Vec<String> = COLUMNS.iter().map(|(_, cell)| cell(record)).collect();
        println!("{}", cells.join("  "));
    }
}

fn verify(client: &Client, as_json: bool) -> CliResult {
    let verdict: AuditVerdictDto = client.get("/api/v1/audit/verify")?;
    output::print(&verdict, as_json, |v| {
        let span = match (v.first_seq, v.last_seq) {
            (Some(first), Some(last)) => format!("#{first} to #{last}"),
            _ => "no records".into(),
        };
        if v.intact {
            println!("audit log intact: {} records, {span}", v.records);
        }
    });
    match verdict.broken {
        None => Ok(()),
        Some(broken) => Err(CliError::with_code(
            format!(
                "audit log broken at record #{}: {}",
                broken.seq, broken.reason
            ),
            3,
        )),
    }
}
