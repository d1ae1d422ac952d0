//! `keyport approvals`, `keyport approve ID`, `keyport deny ID`: the requests that keys
//! created with `--approval writes` hold for you, and your answers.

use super::CliResult;
use super::client::{Client, enc};
use super::output::{self, Field};
use crate::http::dto::{ApprovalsPageDto, Page, PendingApprovalDto};

const ID: Field<PendingApprovalDto> = ("id", |r| r.id.clone());
const KEY: Field<PendingApprovalDto> = ("key", |r| r.key_name.clone());
const ENTITY: Field<PendingApprovalDto> = ("entity", |r| r.entity_id.clone());
const APP: Field<PendingApprovalDto> = ("app", |r| r.app.clone());
const CONNECTION: Field<PendingApprovalDto> = ("connection", |r| r.connection_id.clone());
const REQUEST: Field<PendingApprovalDto> = ("request", |r| {
    let action = r
        .action
        .as_deref()
        .map(|a| format!("{a}: "))
        .unwrap_or_default();
    format!("{action}{} {}{}", r.method, r.host, r.path)
});
const BODY: Field<PendingApprovalDto> = ("body", |r| output::opt(r.body.as_deref()));
const EXPIRES: Field<PendingApprovalDto> = ("expires", |r| r.expires_at.clone());

#[derive(clap::Args, Debug)]
pub struct ApprovalsArgs {
    /// Print a link to the local approvals page (valid for an hour) and open it.
    #[arg(long)]
    pub page: bool,
    /// With --page: do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

pub fn list(client: &Client, args: ApprovalsArgs, as_json: bool) -> CliResult {
    if args.page {
        let link: ApprovalsPageDto =
            client.post("/api/v1/approvals/page", &serde_json::json!({}))?;
        output::print(&link, as_json, |link| {
            println!(
                "{}
(works until {}; anyone with this link can answer for you)",
                link.url, link.expires_at
            );
        });
        if !args.no_browser && !as_json {
            super::connect::open_browser(&link.url);
        }
        return Ok(());
    }
    let pending: Page<PendingApprovalDto> = client.get("/api/v1/approvals")?;
    output::print(&pending, as_json, |pending| {
        if pending.items.is_empty() {
            println!("no request is waiting for approval");
        } else {
            let columns = [ID, KEY, ENTITY, APP, CONNECTION, REQUEST, BODY, EXPIRES];
            output::table_of(&pending.items, &columns);
        }
    });
    Ok(())
}

pub fn answer(client: &Client, id: &str, approve: bool, as_json: bool) -> CliResult {
    let verb = if approve { "approve" } else { "deny" };
    let path = format!("/api/v1/approvals/{}/{verb}", enc(id));
    let request: PendingApprovalDto = client.post(&path, &serde_json::json!({}))?;
    output::print(&request, as_json, |r| {
        let done = if approve { "approved" } else { "denied" };
        println!(
            "{done}: {} {}{} for {} ({})",
            r.method, r.host, r.path, r.key_name, r.entity_id
        );
    });
    Ok(())
}
