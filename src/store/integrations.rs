//! The `integrations` table.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};
use serde_json::{Map, Value};

use super::by_id::by_id_table;
use super::{StoreError, json_column, parsed_column, to_json};
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

/// An integration from its row (`COLUMNS`, in order).
fn read(row: &Row<'_>) -> Result<Integration, StoreError> {
    Ok(Integration {
        id: parsed_column(row, 0, "bad integration id")?,
        app_key: row.get(1)?,
        name: row.get(2)?,
        auth_scheme: parsed_column(row, 3, "unknown scheme")?,
        config: json_column(row, 4)?,
        secret_keys: json_column(row, 5)?,
        scopes: json_column(row, 6)?,
        base_url: row.get(7)?,
        enabled: row.get(8)?,
        deleted: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
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

by_id_table!("integrations", "integration", IntegrationId => Integration);

/// Integrations that are not deleted, oldest first.
pub fn list(conn: &Connection, show_disabled: bool) -> Result<Vec<Integration>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM integrations WHERE deleted = 0");
    if !show_disabled {
        sql.push_str(" AND enabled = 1");
    }
    sql.push_str(" ORDER BY created_at, id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok(read(r)))?;
    rows.map(|r| r?).collect()
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
