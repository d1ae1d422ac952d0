//! The `api_keys` table: SHA-256 hashes of keys, never the keys.

use rusqlite::{Connection, Row, params};

use super::StoreError;
use crate::domain::api_key::{ApiKey, Approval, Permission};
use crate::ids::{ApiKeyId, EntityId};

pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub name: &'a str,
    pub key_hash: &'a [u8],
    pub prefix: &'a str,
    pub permission: Permission,
    pub entity: Option<&'a EntityId>,
    pub approval: Approval,
    pub now: &'a str,
}

pub fn insert(db: &Connection, new: &NewApiKey<'_>) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO api_keys (id, name, key_hash, prefix, permission, entity_id, created_at, approval) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.id.to_string(),
            new.name,
            new.key_hash,
            new.prefix,
            new.permission.as_str(),
            new.entity.map(EntityId::as_str),
            new.now,
            new.approval.as_str(),
        ],
    )?;
    Ok(())
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<(ApiKey, Vec<u8>)> {
    let id: String = row.get(0)?;
    let permission: String = row.get(4)?;
    let entity: Option<String> = row.get(5)?;
    let key = ApiKey {
        id: id
            .parse()
            .map_err(|_| rusqlite::Error::InvalidColumnName("id".into()))?,
        name: row.get(1)?,
        prefix: row.get(3)?,
        permission: permission
            .parse()
            .map_err(|_| rusqlite::Error::InvalidColumnName("permission".into()))?,
        entity: entity
            .as_deref()
            .map(EntityId::parse)
            .transpose()
            .map_err(|_| rusqlite::Error::InvalidColumnName("entity_id".into()))?,
        created_at: row.get(6)?,
        revoked_at: row.get(7)?,
        approval: row
            .get::<_, String>(8)?
            .parse()
            .map_err(|_| rusqlite::Error::InvalidColumnName("approval".into()))?,
    };
    Ok((key, row.get(2)?))
}

/// Every key with its hash, oldest first.
pub fn all(db: &Connection) -> Result<Vec<(ApiKey, Vec<u8>)>, StoreError> {
    let mut stmt = db.prepare(
        "SELECT id, name, key_hash, prefix, permission, entity_id, created_at, revoked_at, approval FROM api_keys ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn revoke(db: &Connection, id: ApiKeyId, now: &str) -> Result<bool, StoreError> {
    super::update_one(
        db,
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        id,
        now,
    )
}
