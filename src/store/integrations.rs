//! The `integrations` table.

use serde_json::{Map, Value};

use super::by_id::by_id_table;
use super::db::{Db, Param, Row};
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
fn read(row: &Row) -> Result<Integration, StoreError> {
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

/// A patch's JSON columns, serialized: `config`, `secret_keys`, `scopes`.
struct Json([String; 3]);

impl IntegrationPatch<'_> {
    fn json(&self) -> Result<Json, StoreError> {
        Ok(Json([
            to_json(self.config)?,
            to_json(&self.secret_keys)?,
            to_json(&self.scopes)?,
        ]))
    }

    /// The mutable columns in the order `name, config, secret_keys, secrets, scopes,
    /// base_url, enabled, updated_at`, as insert and update bind them.
    fn values<'a>(&'a self, json: &'a Json) -> [Param<'a>; 8] {
        let [config, secret_keys, scopes] = &json.0;
        [
            Param::Text(self.name),
            Param::Text(config),
            Param::Text(secret_keys),
            self.secrets.into(),
            Param::Text(scopes),
            Param::Text(self.base_url),
            Param::Bool(self.enabled),
            Param::Text(self.now),
        ]
    }
}

pub fn insert(db: &Db<'_>, new: &NewIntegration<'_>) -> Result<(), StoreError> {
    let id = new.id.to_string();
    let json = new.fields.json()?;
    let mut values = vec![
        Param::Text(&id),
        Param::Text(new.app_key),
        Param::Text(new.auth_scheme.as_str()),
    ];
    values.extend(new.fields.values(&json));
    db.execute(
        "INSERT INTO integrations (id, app_key, auth_scheme, name, config, secret_keys, secrets, scopes, base_url, enabled, deleted, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, FALSE, ?11, ?11)",
        &values,
    )?;
    Ok(())
}

by_id_table!("integrations", "integration", IntegrationId => Integration);

/// Integrations that are not deleted, oldest first.
pub fn list(db: &Db<'_>, show_disabled: bool) -> Result<Vec<Integration>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM integrations WHERE deleted = FALSE");
    if !show_disabled {
        sql.push_str(" AND enabled = TRUE");
    }
    sql.push_str(" ORDER BY created_at, id");
    db.query(&sql, &[])?.iter().map(read).collect()
}

pub fn update(
    db: &Db<'_>,
    id: IntegrationId,
    patch: &IntegrationPatch<'_>,
) -> Result<bool, StoreError> {
    let id = id.to_string();
    let json = patch.json()?;
    let mut values = vec![Param::Text(&id)];
    values.extend(patch.values(&json));
    let changed = db.execute(
        "UPDATE integrations SET name = ?2, config = ?3, secret_keys = ?4, secrets = ?5, scopes = ?6, base_url = ?7, enabled = ?8, updated_at = ?9
         WHERE id = ?1 AND deleted = FALSE",
        &values,
    )?;
    Ok(changed == 1)
}

/// Marks the integration deleted and wipes its sealed secrets. Its connections are handled
/// by the caller in the same transaction.
pub fn soft_delete(db: &Db<'_>, id: IntegrationId, now: &str) -> Result<bool, StoreError> {
    super::update_one(
        db,
        "UPDATE integrations SET deleted = TRUE, enabled = FALSE, secrets = NULL, secret_keys = '[]', updated_at = ?2 WHERE id = ?1 AND deleted = FALSE",
        id,
        now,
    )
}
