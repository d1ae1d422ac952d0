//! The `connections` and `entities` tables. An entity row exists once any connection has
//! named it; connections are soft-deleted (status DELETED, secrets wiped) so their history
//! stays visible.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection as Db, Row, params, params_from_iter};
use serde_json::{Map, Value};

use super::by_id::by_id_table;
use super::{StoreError, corrupt, json_column, parsed_column, to_json};
use crate::domain::{Connection, ConnectionStatus};
use crate::ids::{ConnectionId, EntityId, IntegrationId};

pub struct NewConnection<'a> {
    pub id: ConnectionId,
    pub integration_id: IntegrationId,
    pub entity_id: &'a EntityId,
    pub app_key: &'a str,
    pub status: ConnectionStatus,
    pub status_reason: Option<&'a str>,
    pub labels: &'a [String],
    pub params: &'a Map<String, Value>,
    pub secret_keys: &'a [String],
    pub secrets: Option<&'a [u8]>,
    pub now: &'a str,
}

/// New credential material and status for an existing connection.
pub struct SecretUpdate<'a> {
    pub status: ConnectionStatus,
    pub status_reason: Option<&'a str>,
    pub params: &'a Map<String, Value>,
    pub secret_keys: &'a [String],
    pub secrets: Option<&'a [u8]>,
    pub now: &'a str,
}

#[derive(Debug, Default, Clone)]
pub struct ConnectionFilter {
    pub entities: Vec<EntityId>,
    pub apps: Vec<String>,
    pub statuses: Vec<ConnectionStatus>,
    pub labels: Vec<String>,
    pub integrations: Vec<IntegrationId>,
    pub ids: Vec<ConnectionId>,
    pub order: Order,
}

/// One page of a list: at most `limit` rows, after the first `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: u64,
    pub offset: u64,
}

/// The order of a connection list: by creation (the default) or last update, oldest
/// first unless `newest_first`; the id breaks ties, so pages never overlap.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub by_update: bool,
    pub newest_first: bool,
}

impl Order {
    fn sql(self) -> &'static str {
        match (self.by_update, self.newest_first) {
            (false, false) => "created_at, id",
            (false, true) => "created_at DESC, id DESC",
            (true, false) => "updated_at, id",
            (true, true) => "updated_at DESC, id DESC",
        }
    }
}

const COLUMNS: &str = "id, integration_id, entity_id, app_key, status, status_reason, labels, params, secret_keys, created_at, updated_at";

/// A connection from its row (`COLUMNS`, in order).
fn read(row: &Row<'_>) -> Result<Connection, StoreError> {
    Ok(Connection {
        id: parsed_column(row, 0, "bad connection id")?,
        integration_id: parsed_column(row, 1, "bad integration id")?,
        entity_id: EntityId::parse(&row.get::<_, String>(2)?)
            .map_err(|_| corrupt("bad entity id".into()))?,
        app_key: row.get(3)?,
        status: parsed_column(row, 4, "bad status")?,
        status_reason: row.get(5)?,
        labels: json_column(row, 6)?,
        params: json_column(row, 7)?,
        secret_keys: json_column(row, 8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

pub fn insert(db: &Db, new: &NewConnection<'_>) -> Result<(), StoreError> {
    db.execute(
        "INSERT OR IGNORE INTO entities (id, created_at) VALUES (?1, ?2)",
        params![new.entity_id.as_str(), new.now],
    )?;
    db.execute(
        "INSERT INTO connections (id, integration_id, entity_id, app_key, status, status_reason, labels, params, secret_keys, secrets, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            new.id.to_string(),
            new.integration_id.to_string(),
            new.entity_id.as_str(),
            new.app_key,
            new.status.as_str(),
            new.status_reason,
            to_json(&new.labels)?,
            to_json(new.params)?,
            to_json(&new.secret_keys)?,
            new.secrets,
            new.now,
        ],
    )?;
    Ok(())
}

by_id_table!("connections", "connection", ConnectionId => Connection);

/// The `WHERE` clause and its arguments for every criterion of `filter`.
/// Without a status filter, DELETED connections are left out.
fn matching(filter: &ConnectionFilter) -> (String, Vec<SqlValue>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    let mut any_of = |sql: &mut String, column: &str, values: Vec<String>| {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        sql.push_str(&format!(" AND {column} IN ({marks})"));
        args.extend(values.into_iter().map(SqlValue::Text));
    };
    any_of(
        &mut sql,
        "entity_id",
        filter
            .entities
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
    );
    any_of(
        &mut sql,
        "app_key",
        filter.apps.iter().map(|a| a.to_ascii_lowercase()).collect(),
    );
    if filter.statuses.is_empty() {
        sql.push_str(" AND status <> 'DELETED'");
    }
    any_of(
        &mut sql,
        "status",
        filter
            .statuses
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    );
    any_of(
        &mut sql,
        "integration_id",
        filter.integrations.iter().map(|i| i.to_string()).collect(),
    );
    any_of(
        &mut sql,
        "id",
        filter.ids.iter().map(|i| i.to_string()).collect(),
    );
    for label in &filter.labels {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM json_each(connections.labels) WHERE json_each.value = ?)",
        );
        args.push(SqlValue::Text(label.clone()));
    }
    (sql, args)
}

/// Connections matching every given criterion, in the filter's order, one page of them.
pub fn list(
    db: &Db,
    filter: &ConnectionFilter,
    window: Window,
) -> Result<Vec<Connection>, StoreError> {
    let (clause, mut args) = matching(filter);
    let order = filter.order.sql();
    let sql =
        format!("SELECT {COLUMNS} FROM connections{clause} ORDER BY {order} LIMIT ? OFFSET ?");
    args.push(SqlValue::Integer(
        i64::try_from(window.limit).unwrap_or(i64::MAX),
    ));
    args.push(SqlValue::Integer(
        i64::try_from(window.offset).unwrap_or(i64::MAX),
    ));
    let mut stmt = db.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| Ok(read(r)))?;
    rows.map(|r| r?).collect()
}

/// How many connections match `filter`, on every page.
pub fn count(db: &Db, filter: &ConnectionFilter) -> Result<u64, StoreError> {
    let (clause, args) = matching(filter);
    let sql = format!("SELECT COUNT(*) FROM connections{clause}");
    let total: i64 = db
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |r| r.get(0))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

pub fn set_status(
    db: &Db,
    id: ConnectionId,
    status: ConnectionStatus,
    reason: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET status = ?2, status_reason = ?3, updated_at = ?4 WHERE id = ?1",
        params![id.to_string(), status.as_str(), reason, now],
    )?;
    Ok(())
}

/// Sets one plain parameter of a connection (what keyport learnt about it, such as which
/// account it is), leaving everything else as it is.
pub fn set_param(db: &Db, id: ConnectionId, key: &str, value: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET params = json_set(params, '$.' || ?2, ?3) WHERE id = ?1",
        params![id.to_string(), key, value],
    )?;
    Ok(())
}

/// Replaces a connection's labels.
pub fn set_labels(
    db: &Db,
    id: ConnectionId,
    labels: &[String],
    now: &str,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET labels = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.to_string(), to_json(&labels)?, now],
    )?;
    Ok(())
}

/// Makes `id` its entity's default connection to its app (or, with `on` false, not): the
/// mark (`params.default`) leaves every other live connection of that entity and app.
pub fn set_default(db: &Db, id: ConnectionId, on: bool, now: &str) -> Result<(), StoreError> {
    if on {
        db.execute(
            "UPDATE connections SET params = json_remove(params, '$.default'), updated_at = ?2
             WHERE id <> ?1 AND status <> 'DELETED' AND json_extract(params, '$.default') IS NOT NULL
               AND (entity_id, app_key) = (SELECT entity_id, app_key FROM connections WHERE id = ?1)",
            params![id.to_string(), now],
        )?;
        db.execute(
            "UPDATE connections SET params = json_set(params, '$.default', json('true')), updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), now],
        )?;
    } else {
        db.execute(
            "UPDATE connections SET params = json_remove(params, '$.default'), updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), now],
        )?;
    }
    Ok(())
}

pub fn update_secrets(
    db: &Db,
    id: ConnectionId,
    update: &SecretUpdate<'_>,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET status = ?2, status_reason = ?3, params = ?4, secret_keys = ?5, secrets = ?6, updated_at = ?7 WHERE id = ?1",
        params![
            id.to_string(),
            update.status.as_str(),
            update.status_reason,
            to_json(update.params)?,
            to_json(&update.secret_keys)?,
            update.secrets,
            update.now,
        ],
    )?;
    Ok(())
}

/// Marks a connection DELETED and wipes its credentials.
pub fn soft_delete(db: &Db, id: ConnectionId, now: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET status = 'DELETED', status_reason = NULL, secrets = NULL, secret_keys = '[]', updated_at = ?2 WHERE id = ?1",
        params![id.to_string(), now],
    )?;
    Ok(())
}

/// The ids of an integration's live (not DELETED) connections.
pub fn live_for_integration(
    db: &Db,
    integration: IntegrationId,
) -> Result<Vec<ConnectionId>, StoreError> {
    let mut stmt =
        db.prepare("SELECT id FROM connections WHERE integration_id = ?1 AND status <> 'DELETED'")?;
    let ids: Vec<String> = stmt
        .query_map([integration.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
}

/// Soft-deletes every live connection of an integration; returns their ids.
pub fn delete_for_integration(
    db: &Db,
    integration: IntegrationId,
    now: &str,
) -> Result<Vec<ConnectionId>, StoreError> {
    let ids = live_for_integration(db, integration)?;
    for id in &ids {
        soft_delete(db, *id, now)?;
    }
    Ok(ids)
}

/// How many ACTIVE connections each integration has (only `entity`'s when given).
pub fn active_counts(
    db: &Db,
    entity: Option<&EntityId>,
) -> Result<Vec<(IntegrationId, u64)>, StoreError> {
    let mut stmt = db.prepare_cached(
        "SELECT integration_id, COUNT(*) FROM connections
         WHERE status = 'ACTIVE' AND (?1 IS NULL OR entity_id = ?1) GROUP BY integration_id",
    )?;
    let rows = stmt.query_map([entity.map(EntityId::as_str)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, count) = row?;
        if let Ok(id) = id.parse() {
            out.push((id, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(out)
}

/// Every entity with the number of live connections it has.
pub fn entities(db: &Db) -> Result<Vec<(EntityId, String, u64)>, StoreError> {
    let mut stmt = db.prepare(
        "SELECT e.id, e.created_at, (SELECT COUNT(*) FROM connections c WHERE c.entity_id = e.id AND c.status <> 'DELETED')
         FROM entities e ORDER BY e.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, created, count) = row?;
        if let Ok(entity) = EntityId::parse(&id) {
            out.push((entity, created, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(out)
}
