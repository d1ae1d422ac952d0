//! The `oauth_flows` table: pending browser authorizations, looked up by the hash of their
//! `state` (callback) or of their connect-page token, each usable once.

use rusqlite::{Connection as Db, OptionalExtension, Row, params};

use super::StoreError;
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

fn from_row(row: &Row<'_>) -> rusqlite::Result<(String, Flow)> {
    let id: String = row.get(0)?;
    let used: Option<String> = row.get(6)?;
    Ok((
        id,
        Flow {
            connection_id: ConnectionId::default(),
            app_key: row.get(1)?,
            secrets: row.get(2)?,
            redirect_after: row.get(3)?,
            expected_issuer: row.get(4)?,
            expires_at: row.get(5)?,
            used: used.is_some(),
        },
    ))
}

fn finish(found: Option<(String, Flow)>) -> Result<Option<Flow>, StoreError> {
    match found {
        None => Ok(None),
        Some((id, flow)) => {
            let connection_id = id.parse().map_err(|_| {
                StoreError::Json(serde::de::Error::custom(format!("bad connection id {id}")))
            })?;
            Ok(Some(Flow {
                connection_id,
                ..flow
            }))
        }
    }
}

/// Stores a pending flow. A connection has at most one: a reconnect's flow replaces the
/// one that connected it (used by then) or an earlier reconnect's (whose link stops working).
pub fn insert(db: &Db, new: &NewFlow<'_>) -> Result<(), StoreError> {
    db.execute(
        "INSERT OR REPLACE INTO oauth_flows (connection_id, state_hash, connect_hash, app_key, secrets, redirect_after, expected_issuer, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.connection_id.to_string(),
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

pub fn by_state(db: &Db, state_hash: &[u8]) -> Result<Option<Flow>, StoreError> {
    finish(
        db.query_row(
            &format!("SELECT {COLUMNS} FROM oauth_flows WHERE state_hash = ?1"),
            [state_hash],
            from_row,
        )
        .optional()?,
    )
}

pub fn by_connect(db: &Db, connect_hash: &[u8]) -> Result<Option<Flow>, StoreError> {
    finish(
        db.query_row(
            &format!("SELECT {COLUMNS} FROM oauth_flows WHERE connect_hash = ?1"),
            [connect_hash],
            from_row,
        )
        .optional()?,
    )
}

pub fn by_connection(db: &Db, id: ConnectionId) -> Result<Option<Flow>, StoreError> {
    finish(
        db.query_row(
            &format!("SELECT {COLUMNS} FROM oauth_flows WHERE connection_id = ?1"),
            [id.to_string()],
            from_row,
        )
        .optional()?,
    )
}

/// Marks a flow used; `false` if it already was (a replay).
pub fn mark_used(db: &Db, id: ConnectionId, now: &str) -> Result<bool, StoreError> {
    super::update_one(
        db,
        "UPDATE oauth_flows SET used_at = ?2 WHERE connection_id = ?1 AND used_at IS NULL",
        id,
        now,
    )
}

/// When the earliest open flow expires (unix seconds); `None` when no flow is open.
pub fn next_expiry(db: &Db) -> Result<Option<i64>, StoreError> {
    let mut stmt =
        db.prepare_cached("SELECT MIN(expires_at) FROM oauth_flows WHERE used_at IS NULL")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// INITIATED connections whose flow expired before `now_unix`: turned FAILED, flows closed.
/// Returns how many.
pub fn expire(db: &Db, now_unix: i64, now: &str) -> Result<Vec<ConnectionId>, StoreError> {
    let mut stmt = db.prepare(
        "UPDATE connections SET status = 'FAILED', status_reason = ?3, updated_at = ?2
         WHERE status = 'INITIATED' AND id IN (SELECT connection_id FROM oauth_flows WHERE used_at IS NULL AND expires_at < ?1)
         RETURNING id",
    )?;
    let ids: Vec<String> = stmt
        .query_map(params![now_unix, now, EXPIRED_REASON], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    db.execute(
        "UPDATE oauth_flows SET used_at = ?2 WHERE used_at IS NULL AND expires_at < ?1",
        params![now_unix, now],
    )?;
    Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
}

/// Why a connection whose flow lapsed is FAILED.
pub const EXPIRED_REASON: &str = "the authorization was not completed within 10 minutes";
