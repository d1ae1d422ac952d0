//! The `api_keys` table: SHA-256 hashes of keys, never the keys, with each key's
//! restrictions (JSON arrays of strings; NULL for none).

use super::db::{Db, Row, args};
use super::{StoreError, corrupt};
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

pub fn insert(db: &Db<'_>, new: &NewApiKey<'_>) -> Result<(), StoreError> {
    let r = new.restrictions;
    let methods: Option<Vec<&str>> = r
        .methods
        .as_ref()
        .map(|m| m.iter().map(|m| m.as_str()).collect());
    let id = new.id.to_string();
    let apps = list_json(r.apps.as_deref());
    let actions = list_json(r.actions.as_deref());
    let methods = list_json(methods.as_deref());
    db.announce_keys()?;
    db.execute(
        "INSERT INTO api_keys (id, name, key_hash, prefix, permission, entity_id, created_at, \
         expires_at, allowed_apps, allowed_actions, allowed_methods, approval) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &args![
            &id,
            new.name,
            new.key_hash,
            new.prefix,
            new.permission.as_str(),
            new.entity.map(EntityId::as_str),
            new.now,
            r.expires_at.as_deref(),
            apps.as_deref(),
            actions.as_deref(),
            methods.as_deref(),
            r.approval.as_str(),
        ],
    )?;
    Ok(())
}

fn bad(column: &str) -> StoreError {
    corrupt(format!("api key column {column}"))
}

/// A stored list column: NULL, or a JSON array of strings.
fn list_at(row: &Row, at: usize, column: &str) -> Result<Option<Vec<String>>, StoreError> {
    let text: Option<String> = row.get(at)?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| bad(column)))
        .transpose()
}

fn restrictions(row: &Row) -> Result<Restrictions, StoreError> {
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
            .get::<String>(12)?
            .parse::<Approval>()
            .map_err(|_| bad("approval"))?,
    })
}

fn from_row(row: &Row) -> Result<(ApiKey, Vec<u8>), StoreError> {
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
pub fn all(db: &Db<'_>) -> Result<Vec<(ApiKey, Vec<u8>)>, StoreError> {
    db.query(
        "SELECT id, name, key_hash, prefix, permission, entity_id, created_at, revoked_at, \
         expires_at, allowed_apps, allowed_actions, allowed_methods, approval \
         FROM api_keys ORDER BY created_at, id",
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn revoke(db: &Db<'_>, id: ApiKeyId, now: &str) -> Result<bool, StoreError> {
    db.announce_keys()?;
    super::update_one(
        db,
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        id,
        now,
    )
}

/// Revokes every active key that is not an admin key; returns how many.
pub fn revoke_all_but_admin(db: &Db<'_>, now: &str) -> Result<usize, StoreError> {
    db.announce_keys()?;
    db.execute(
        "UPDATE api_keys SET revoked_at = ?1 WHERE revoked_at IS NULL AND permission != 'admin'",
        &args![now],
    )
}
