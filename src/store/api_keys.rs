//! The `api_keys` table: SHA-256 hashes of keys, never the keys, with each key's
//! restrictions (JSON arrays of strings; NULL for none).

use rusqlite::{Connection, Row, params};

use super::StoreError;
use crate::domain::api_key::{ApiKey, Approval, Permission, ProxyMethod, Restrictions};
use crate::ids::{ApiKeyId, EntityId};

pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub name: &'a str,
    pub key_hash: &'a [u8],
    pub prefix: &'a str,
    pub permission: Permission,
    pub entity: Option<&'a EntityId>,
    pub restrictions: &'a Restrictions,
    pub now: &'a str,
}

fn list_json<T: AsRef<str>>(list: Option<&[T]>) -> Option<String> {
    list.map(|items| {
        serde_json::Value::from(items.iter().map(|i| i.as_ref()).collect::<Vec<_>>()).to_string()
    })
}

pub fn insert(db: &Connection, new: &NewApiKey<'_>) -> Result<(), StoreError> {
    let r = new.restrictions;
    let methods: Option<Vec<&str>> = r
        .methods
        .as_ref()
        .map(|m| m.iter().map(|m| m.as_str()).collect());
    db.execute(
        "INSERT INTO api_keys (id, name, key_hash, prefix, permission, entity_id, created_at, \
         expires_at, allowed_apps, allowed_actions, allowed_methods, approval) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            new.id.to_string(),
            new.name,
            new.key_hash,
            new.prefix,
            new.permission.as_str(),
            new.entity.map(EntityId::as_str),
            new.now,
            r.expires_at,
            list_json(r.apps.as_deref()),
            list_json(r.actions.as_deref()),
            list_json(methods.as_deref()),
            r.approval.as_str(),
        ],
    )?;
    Ok(())
}

fn bad(column: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(column.into())
}

/// A stored list column: NULL, or a JSON array of strings.
fn list_at(row: &Row<'_>, at: usize, column: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let text: Option<String> = row.get(at)?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| bad(column)))
        .transpose()
}

fn restrictions(row: &Row<'_>) -> rusqlite::Result<Restrictions> {
    let methods = list_at(row, 11, "allowed_methods")?
        .map(|m| {
            m.iter()
                .map(|m| m.parse::<ProxyMethod>())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|_| bad("allowed_methods"))?;
    Ok(Restrictions {
        expires_at: row.get(8)?,
        apps: list_at(row, 9, "allowed_apps")?,
        actions: list_at(row, 10, "allowed_actions")?,
        methods,
        approval: row
            .get::<_, String>(12)?
            .parse::<Approval>()
            .map_err(|_| bad("approval"))?,
    })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<(ApiKey, Vec<u8>)> {
    let id: String = row.get(0)?;
    let permission: String = row.get(4)?;
    let entity: Option<String> = row.get(5)?;
    let key = ApiKey {
        id: id.parse().map_err(|_| bad("id"))?,
        name: row.get(1)?,
        prefix: row.get(3)?,
        permission: permission.parse().map_err(|_| bad("permission"))?,
        entity: entity
            .as_deref()
            .map(EntityId::parse)
            .transpose()
            .map_err(|_| bad("entity_id"))?,
        restrictions: restrictions(row)?,
        created_at: row.get(6)?,
        revoked_at: row.get(7)?,
    };
    Ok((key, row.get(2)?))
}

/// Every key with its hash, oldest first.
pub fn all(db: &Connection) -> Result<Vec<(ApiKey, Vec<u8>)>, StoreError> {
    let mut stmt = db.prepare(
        "SELECT id, name, key_hash, prefix, permission, entity_id, created_at, revoked_at, \
         expires_at, allowed_apps, allowed_actions, allowed_methods, approval \
         FROM api_keys ORDER BY created_at, id",
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

/// Revokes every active key that is not an admin key; returns how many.
pub fn revoke_all_but_admin(db: &Connection, now: &str) -> Result<usize, StoreError> {
    Ok(db.execute(
        "UPDATE api_keys SET revoked_at = ?1 WHERE revoked_at IS NULL AND permission != 'admin'",
        params![now],
    )?)
}
