//! The `oauth_flows` table: pending browser authorizations, looked up by the hash of their
//! `state` (callback) or of their connect-page token, each usable once.

use super::db::{Db, Dialect, Row, args};
use super::{StoreError, corrupt};
use crate::ids::ConnectionId;

pub struct NewFlow<'a> {
    pub connection_id: ConnectionId,
    pub state_hash: &'a [u8],
    pub connect_hash: &'a [u8],
    pub app_key: &'a str,
    pub secrets: &'a [u8],
    pub redirect_after: Option<&'a str>,
    pub expected_issuer: Option<&'a str>,
    pub now: &'a str,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub connection_id: ConnectionId,
    pub app_key: String,
    pub secrets: Vec<u8>,
    pub redirect_after: Option<String>,
    pub expected_issuer: Option<String>,
    pub expires_at: i64,
    pub used: bool,
}

const COLUMNS: &str =
    "connection_id, app_key, secrets, redirect_after, expected_issuer, expires_at, used_at";

fn from_row(row: &Row) -> Result<Flow, StoreError> {
    let id: String = row.get(0)?;
    let used: Option<String> = row.get(6)?;
    Ok(Flow {
        connection_id: id
            .parse()
            .map_err(|_| corrupt(format!("bad connection id {id}")))?,
        app_key: row.get(1)?,
        secrets: row.get(2)?,
        redirect_after: row.get(3)?,
        expected_issuer: row.get(4)?,
        expires_at: row.get(5)?,
        used: used.is_some(),
    })
}

/// Stores a pending flow. A connection has at most one: a reconnect's flow replaces the
/// one that connected it (used by then) or an earlier reconnect's (whose link stops working).
pub fn insert(db: &Db<'_>, new: &NewFlow<'_>) -> Result<(), StoreError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => {
            "INSERT OR REPLACE INTO oauth_flows (connection_id, state_hash, connect_hash, app_key, secrets, redirect_after, expected_issuer, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        }
        Dialect::Postgres => {
            "INSERT INTO oauth_flows (connection_id, state_hash, connect_hash, app_key, secrets, redirect_after, expected_issuer, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (connection_id) DO UPDATE SET state_hash = excluded.state_hash,
               connect_hash = excluded.connect_hash, app_key = excluded.app_key, secrets = excluded.secrets,
               redirect_after = excluded.redirect_after, expected_issuer = excluded.expected_issuer,
               created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = NULL"
        }
    };
    db.execute(
        sql,
        &args![
            new.connection_id.to_string().as_str(),
            new.state_hash,
            new.connect_hash,
            new.app_key,
            new.secrets,
            new.redirect_after,
            new.expected_issuer,
            new.now,
            new.expires_at,
        ],
    )?;
    Ok(())
}

/// The flow whose `column` holds `key`.
fn by(db: &Db<'_>, column: &str, key: super::db::Param<'_>) -> Result<Option<Flow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_flows WHERE {column} = ?1");
    db.query_opt(&sql, &[key])?
        .map(|row| from_row(&row))
        .transpose()
}

pub fn by_state(db: &Db<'_>, state_hash: &[u8]) -> Result<Option<Flow>, StoreError> {
    by(db, "state_hash", state_hash.into())
}

pub fn by_connect(db: &Db<'_>, connect_hash: &[u8]) -> Result<Option<Flow>, StoreError> {
    by(db, "connect_hash", connect_hash.into())
}

pub fn by_connection(db: &Db<'_>, id: ConnectionId) -> Result<Option<Flow>, StoreError> {
    by(db, "connection_id", id.to_string().as_str().into())
}

/// Marks a flow used; `false` if it already was (a replay).
pub fn mark_used(db: &Db<'_>, id: ConnectionId, now: &str) -> Result<bool, StoreError> {
    super::update_one(
        db,
        "UPDATE oauth_flows SET used_at = ?2 WHERE connection_id = ?1 AND used_at IS NULL",
        id,
        now,
    )
}

/// When the earliest open flow expires (unix seconds); `None` when no flow is open.
pub fn next_expiry(db: &Db<'_>) -> Result<Option<i64>, StoreError> {
    let row = db.query_opt(
        "SELECT MIN(expires_at) FROM oauth_flows WHERE used_at IS NULL",
        &[],
    )?;
    Ok(row.map(|r| r.get(0)).transpose()?.flatten())
}

/// INITIATED connections whose flow expired before `now_unix`: turned FAILED, flows closed.
/// Returns how many.
pub fn expire(db: &Db<'_>, now_unix: i64, now: &str) -> Result<Vec<ConnectionId>, StoreError> {
    let rows = db.returning(
        "UPDATE connections SET status = 'FAILED', status_reason = ?3, updated_at = ?2
         WHERE status = 'INITIATED' AND id IN (SELECT connection_id FROM oauth_flows WHERE used_at IS NULL AND expires_at < ?1)
         RETURNING id",
        &args![now_unix, now, EXPIRED_REASON],
    )?;
    db.execute(
        "UPDATE oauth_flows SET used_at = ?2 WHERE used_at IS NULL AND expires_at < ?1",
        &args![now_unix, now],
    )?;
    super::connections::connection_ids(rows)
}

/// Why a connection whose flow lapsed is FAILED.
pub const EXPIRED_REASON: &str = "the authorization was not completed within 10 minutes";
