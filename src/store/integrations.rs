//! The `integrations` table.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};
use serde_json::{Map, Value};

use super::by_id::{Table, reads_by_id};
use super::{StoreError, from_json, to_json};
use crate::domain::{AuthScheme, Integration};
use crate::ids::IntegrationId;

/// A new integration: its fixed identity, and the same columns a patch replaces.
pub struct NewIntegration<'a> {
    pub id: IntegrationId,
    pub app_key: &'a str,
    pub auth_scheme: AuthScheme,
    pub fields: IntegrationPatch<'a>,
}

/// A full replacement of an integration's mutable columns (the service merges first).
pub struct IntegrationPatch<'a> {
    pub name: &'a str,
    pub config: &'a Map<String, Value>,
    pub secret_keys: &'a [String],
    pub secrets: Option<&'a [u8]>,
    pub scopes: &'a [String],
    pub base_url: &'a str,
    pub enabled: bool,
    pub now: &'a str,
}

const COLUMNS: &str = "id, app_key, name, auth_scheme, config, secret_keys, scopes, base_url, enabled, deleted, created_at, updated_at";

struct Raw {
    id: String,
    app_key: String,
    name: String,
    scheme: String,
    config: String,
    secret_keys: String,
    scopes: String,
    base_url: String,
    enabled: bool,
    deleted: bool,
    created_at: String,
    updated_at: String,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        id: row.get(0)?,
        app_key: row.get(1)?,
        name: row.get(2)?,
        scheme: row.get(3)?,
        config: row.get(4)?,
        secret_keys: row.get(5)?,
        scopes: row.get(6)?,
        base_url: row.get(7)?,
        enabled: row.get(8)?,
        deleted: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

impl Raw {
    /// Bytes held by the text columns, for weighing a cached row.
    fn text_len(&self) -> usize {
        [
            &self.id,
            &self.app_key,
            &self.name,
            &self.scheme,
            &self.config,
            &self.secret_keys,
            &self.scopes,
            &self.base_url,
            &self.created_at,
            &self.updated_at,
        ]
        .iter()
        .map(|s| s.len())
        .sum()
    }
}

fn finish(raw: Raw) -> Result<Integration, StoreError> {
    let bad = |what: String| StoreError::Json(serde::de::Error::custom(what));
    Ok(Integration {
        id: raw
            .id
            .parse()
            .map_err(|_| bad(format!("bad integration id {}", raw.id)))?,
        app_key: raw.app_key,
        name: raw.name,
        auth_scheme: raw
            .scheme
            .parse()
            .map_err(|_| bad(format!("unknown scheme {}", raw.scheme)))?,
        config: from_json(&raw.config)?,
        secret_keys: from_json(&raw.secret_keys)?,
        scopes: from_json(&raw.scopes)?,
        base_url: raw.base_url,
        enabled: raw.enabled,
        deleted: raw.deleted,
        created_at: raw.created_at,
        updated_at: raw.updated_at,
    })
}

impl IntegrationPatch<'_> {
    /// The mutable columns in the order `name, config, secret_keys, secrets, scopes,
    /// base_url, enabled, updated_at`, as insert and update bind them.
    fn values(&self) -> Result<Vec<SqlValue>, StoreError> {
        Ok(vec![
            SqlValue::Text(self.name.to_string()),
            SqlValue::Text(to_json(self.config)?),
            SqlValue::Text(to_json(&self.secret_keys)?),
            self.secrets
                .map_or(SqlValue::Null, |b| SqlValue::Blob(b.to_vec())),
            SqlValue::Text(to_json(&self.scopes)?),
            SqlValue::Text(self.base_url.to_string()),
            SqlValue::Integer(i64::from(self.enabled)),
            SqlValue::Text(self.now.to_string()),
        ])
    }
}

pub fn insert(conn: &Connection, new: &NewIntegration<'_>) -> Result<(), StoreError> {
    let mut values = vec![
        SqlValue::Text(new.id.to_string()),
        SqlValue::Text(new.app_key.to_string()),
        SqlValue::Text(new.auth_scheme.as_str().to_string()),
    ];
    values.extend(new.fields.values()?);
    conn.execute(
        "INSERT INTO integrations (id, app_key, auth_scheme, name, config, secret_keys, secrets, scopes, base_url, enabled, deleted, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?11)",
        params_from_iter(values),
    )?;
    Ok(())
}

const TABLE: Table<Raw, Integration> = Table {
    name: "integrations",
    columns: COLUMNS,
    width: 12,
    from_row,
    text_len: Raw::text_len,
    finish,
};

reads_by_id!(IntegrationId, Integration, "integration");

/// Integrations that are not deleted, oldest first.
pub fn list(conn: &Connection, show_disabled: bool) -> Result<Vec<Integration>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM integrations WHERE deleted = 0");
    if !show_disabled {
        sql.push_str(" AND enabled = 1");
    }
    sql.push_str(" ORDER BY created_at, id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], from_row)?;
    rows.map(|r| finish(r?)).collect()
}

pub fn update(
    conn: &Connection,
    id: IntegrationId,
    patch: &IntegrationPatch<'_>,
) -> Result<bool, StoreError> {
    let mut values = vec![SqlValue::Text(id.to_string())];
    values.extend(patch.values()?);
    let changed = conn.execute(
        "UPDATE integrations SET name = ?2, config = ?3, secret_keys = ?4, secrets = ?5, scopes = ?6, base_url = ?7, enabled = ?8, updated_at = ?9
         WHERE id = ?1 AND deleted = 0",
        params_from_iter(values),
    )?;
    Ok(changed == 1)
}

/// Marks the integration deleted and wipes its sealed secrets. Its connections are handled
/// by the caller in the same transaction.
pub fn soft_delete(conn: &Connection, id: IntegrationId, now: &str) -> Result<bool, StoreError> {
    super::update_one(
        conn,
        "UPDATE integrations SET deleted = 1, enabled = 0, secrets = NULL, secret_keys = '[]', updated_at = ?2 WHERE id = ?1 AND deleted = 0",
        id,
        now,
    )
}
