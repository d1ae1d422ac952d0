//! What the service writes to the audit log, and the admin's reads of it. Records are made
//! here from the service's own values (caller, connection, request line), so no surface
//! writes one, and none carries a credential, a body or a query value.

use std::time::Duration;

use super::caller::Caller;
use super::ctx::Ctx;
use super::error::{Error, Result};
use crate::audit::AuditError;
use crate::audit::record::{Entry, Event, Record, path_only};
use crate::audit::verify::{Verdict, verify};
use crate::domain::Connection;
use crate::domain::api_key::Permission;
use crate::store::audit::{self as rows, AuditFilter};

pub use crate::store::audit::AuditFilter as AuditQuery;

/// How long a read waits for records queued before it to reach the disk.
const SYNC_WAIT: Duration = Duration::from_secs(5);
/// The most records one page holds.
pub const MAX_PAGE: u32 = 1000;

impl From<AuditError> for Error {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(e) => Error::Store(e),
            AuditError::Vault(e) => Error::Vault(e),
            AuditError::Thread(e) => Error::Internal(format!("audit writer: {e}")),
            AuditError::Off => Error::Conflict(
                "the audit log is turned off on this server (audit_days = 0)".into(),
            ),
        }
    }
}

/// One page of records, oldest first, and the cursor for the next.
#[derive(Debug)]
pub struct AuditPage {
    pub records: Vec<Record>,
    pub next_cursor: Option<i64>,
}

/// A record's start: when, what, and which key did it.
pub(crate) fn entry(ctx: &Ctx, event: Event, caller: Option<&Caller>) -> Entry {
    Entry {
        at_ms: ctx.clock.unix_ms(),
        event: event.as_str().to_owned(),
        key_id: caller.map(|c| c.key_id.to_string()),
        key_name: caller.map(|c| c.name.clone()),
        outcome: "ok".to_owned(),
        ..Entry::default()
    }
}

/// `entry` about `connection`: its entity, id and app.
pub(crate) fn about(mut entry: Entry, connection: &Connection) -> Entry {
    entry.entity = Some(connection.entity_id.as_str().to_owned());
    entry.connection = Some(connection.id.to_string());
    entry.app = Some(connection.app_key.clone());
    entry
}

/// `entry` with the request line: method, host and path (never the query).
pub(crate) fn request(mut entry: Entry, method: &str, url: &url::Url) -> Entry {
    entry.method = Some(method.to_owned());
    entry.host = url.host_str().map(str::to_owned);
    entry.path = Some(path_only(url.path()));
    entry
}

/// `entry` for a request that was refused or failed: `refused` for a permission or
/// restriction (or a key the server does not accept), `failed` otherwise; the error's code
/// as detail (codes and messages never carry a secret).
pub(crate) fn failed(mut entry: Entry, error: &Error) -> Entry {
    entry.outcome = match error {
        Error::Forbidden(_) | Error::Unauthorized => "refused",
        _ => "failed",
    }
    .to_owned();
    entry.detail = Some(format!("{}: {error}", error.code()));
    entry
}

/// Which key a key event is about: its id, name and permission (never the key).
pub(crate) fn key_detail(key: &crate::domain::api_key::ApiKey) -> String {
    format!("{} {:?} ({})", key.id, key.name, key.permission)
}

/// The admin's reads.
pub(crate) struct Audit<'a> {
    ctx: &'a Ctx,
}

impl<'a> Audit<'a> {
    pub fn new(ctx: &'a Ctx) -> Self {
        Audit { ctx }
    }

    pub fn list(&self, caller: &Caller, query: &AuditFilter, limit: u32) -> Result<AuditPage> {
        caller.require(Permission::Admin)?;
        self.ctx.audit.key()?;
        self.ctx.audit.sync(SYNC_WAIT);
        let limit = limit.clamp(1, MAX_PAGE);
        let records = self.ctx.store.read(|db| rows::list(db, query, limit + 1))?;
        let more = records.len() > limit as usize;
        let mut records = records;
        records.truncate(limit as usize);
        let next_cursor = more.then(|| records.last().map(|r| r.seq)).flatten();
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }

    pub fn verify(&self, caller: &Caller) -> Result<Verdict> {
        caller.require(Permission::Admin)?;
        let key = self.ctx.audit.key()?;
        self.ctx.audit.sync(SYNC_WAIT);
        Ok(self.ctx.store.snapshot(|db| verify(db, key))?)
    }
}
