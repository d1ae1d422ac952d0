//! The `connections` and `entities` tables. An entity row exists once any connection has
//! named it; connections are soft-deleted (status DELETED, secrets wiped) so their history
//! stays visible.

use serde_json::{Map, Value};

use super::by_id::by_id_table;
use super::db::{Db, Dialect, Param, Row, args};
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
fn read(row: &Row) -> Result<Connection, StoreError> {
    Ok(Connection {
        id: parsed_column(row, 0, "bad connection id")?,
        integration_id: parsed_column(row, 1, "bad integration id")?,
        entity_id: EntityId::parse(&row.get::<String>(2)?)
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

pub fn insert(db: &Db<'_>, new: &NewConnection<'_>) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO entities (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        &args![new.entity_id.as_str(), new.now],
    )?;
    let (id, integration_id) = (new.id.to_string(), new.integration_id.to_string());
    let (labels, params) = (to_json(&new.labels)?, to_json(new.params)?);
    let secret_keys = to_json(&new.secret_keys)?;
    db.execute(
        "INSERT INTO connections (id, integration_id, entity_id, app_key, status, status_reason, labels, params, secret_keys, secrets, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        &args![
            &id,
            &integration_id,
            new.entity_id.as_str(),
            new.app_key,
            new.status.as_str(),
            new.status_reason,
            &labels,
            &params,
            &secret_keys,
            new.secrets,
            new.now,
        ],
    )?;
    Ok(())
}

by_id_table!("connections", "connection", ConnectionId => Connection);

/// Adds `AND column IN (…)` for `values` (none: no condition), numbering its placeholders
/// after those of `args`.
fn any_of(sql: &mut String, args: &mut Vec<String>, column: &str, values: Vec<String>) {
    if values.is_empty() {
        return;
    }
    let first = args.len() + 1;
    let marks: Vec<String> = (first..first + values.len())
        .map(|n| format!("?{n}"))
        .collect();
    sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
    args.extend(values);
}

/// The `WHERE` clause and its arguments for every criterion of `filter`, numbered from
/// `?1`. Without a status filter, DELETED connections are left out.
fn matching(filter: &ConnectionFilter, dialect: Dialect) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    let entities = filter.entities.iter().map(|e| e.as_str().to_string());
    any_of(&mut sql, &mut args, "entity_id", entities.collect());
    let apps = filter.apps.iter().map(|a| a.to_ascii_lowercase());
    any_of(&mut sql, &mut args, "app_key", apps.collect());
    if filter.statuses.is_empty() {
        sql.push_str(" AND status <> 'DELETED'");
    }
    let statuses = filter.statuses.iter().map(|s| s.as_str().to_string());
    any_of(&mut sql, &mut args, "status", statuses.collect());
    let integrations = filter.integrations.iter().map(|i| i.to_string());
    any_of(
        &mut sql,
        &mut args,
        "integration_id",
        integrations.collect(),
    );
    let ids = filter.ids.iter().map(|i| i.to_string());
    any_of(&mut sql, &mut args, "id", ids.collect());
    for label in &filter.labels {
        args.push(label.clone());
        let n = args.len();
        sql.push_str(&match dialect {
            Dialect::Sqlite => format!(
                " AND EXISTS (SELECT 1 FROM json_each(connections.labels) WHERE json_each.value = ?{n})"
            ),
            Dialect::Postgres => format!(
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(connections.labels::jsonb) AS l (value) WHERE l.value = ?{n})"
            ),
        });
    }
    (sql, args)
}

/// Connections matching every given criterion, in the filter's order, one page of them.
pub fn list(
    db: &Db<'_>,
    filter: &ConnectionFilter,
    window: Window,
) -> Result<Vec<Connection>, StoreError> {
    let (clause, texts) = matching(filter, db.dialect());
    let order = filter.order.sql();
    let n = texts.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM connections{clause} ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    let mut args: Vec<Param<'_>> = texts.iter().map(Param::from).collect();
    args.push(Param::Int(i64::try_from(window.limit).unwrap_or(i64::MAX)));
    args.push(Param::Int(i64::try_from(window.offset).unwrap_or(i64::MAX)));
    db.query(&sql, &args)?.iter().map(read).collect()
}

/// How many connections match `filter`, on every page.
pub fn count(db: &Db<'_>, filter: &ConnectionFilter) -> Result<u64, StoreError> {
    let (clause, texts) = matching(filter, db.dialect());
    let sql = format!("SELECT COUNT(*) FROM connections{clause}");
    let args: Vec<Param<'_>> = texts.iter().map(Param::from).collect();
    let total: i64 = db
        .query_opt(&sql, &args)?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(total).unwrap_or(0))
}

pub fn set_status(
    db: &Db<'_>,
    id: ConnectionId,
    status: ConnectionStatus,
    reason: Option<&str>,
    now: &str,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET status = ?2, status_reason = ?3, updated_at = ?4 WHERE id = ?1",
        &args![id.to_string().as_str(), status.as_str(), reason, now],
    )?;
    Ok(())
}

/// Sets one plain parameter of a connection (what keyport learnt about it, such as which
/// account it is), leaving everything else as it is.
pub fn set_param(db: &Db<'_>, id: ConnectionId, key: &str, value: &str) -> Result<(), StoreError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => {
            "UPDATE connections SET params = json_set(params, '$.' || ?2, ?3) WHERE id = ?1"
        }
        Dialect::Postgres => {
            "UPDATE connections SET params = jsonb_set(params::jsonb, ARRAY[?2::text], to_jsonb(?3::text))::text WHERE id = ?1"
        }
    };
    db.execute(sql, &args![id.to_string().as_str(), key, value])?;
    Ok(())
}

/// Replaces a connection's labels.
pub fn set_labels(
    db: &Db<'_>,
    id: ConnectionId,
    labels: &[String],
    now: &str,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET labels = ?2, updated_at = ?3 WHERE id = ?1",
        &args![id.to_string().as_str(), to_json(&labels)?.as_str(), now],
    )?;
    Ok(())
}

/// The statements of `set_default`: unmark the others, mark this one, unmark this one.
fn default_sql(dialect: Dialect) -> [&'static str; 3] {
    match dialect {
        Dialect::Sqlite => [
            "UPDATE connections SET params = json_remove(params, '$.default'), updated_at = ?2
             WHERE id <> ?1 AND status <> 'DELETED' AND json_extract(params, '$.default') IS NOT NULL
               AND (entity_id, app_key) = (SELECT entity_id, app_key FROM connections WHERE id = ?1)",
            "UPDATE connections SET params = json_set(params, '$.default', json('true')), updated_at = ?2 WHERE id = ?1",
            "UPDATE connections SET params = json_remove(params, '$.default'), updated_at = ?2 WHERE id = ?1",
        ],
        Dialect::Postgres => [
            "UPDATE connections SET params = (params::jsonb - 'default')::text, updated_at = ?2
             WHERE id <> ?1 AND status <> 'DELETED' AND params::jsonb -> 'default' IS NOT NULL
               AND (entity_id, app_key) = (SELECT entity_id, app_key FROM connections WHERE id = ?1)",
            "UPDATE connections SET params = jsonb_set(params::jsonb, '{default}', 'true')::text, updated_at = ?2 WHERE id = ?1",
            "UPDATE connections SET params = (params::jsonb - 'default')::text, updated_at = ?2 WHERE id = ?1",
        ],
    }
}

/// Makes `id` its entity's default connection to its app (or, with `on` false, not): the
/// mark (`params.default`) leaves every other live connection of that entity and app.
pub fn set_default(db: &Db<'_>, id: ConnectionId, on: bool, now: &str) -> Result<(), StoreError> {
    let [others, mark, unmark] = default_sql(db.dialect());
    let id = id.to_string();
    if on {
        db.execute(others, &args![id.as_str(), now])?;
        db.execute(mark, &args![id.as_str(), now])?;
    } else {
        db.execute(unmark, &args![id.as_str(), now])?;
    }
    Ok(())
}

pub fn update_secrets(
    db: &Db<'_>,
    id: ConnectionId,
    update: &SecretUpdate<'_>,
) -> Result<(), StoreError> {
    let (params, secret_keys) = (to_json(update.params)?, to_json(&update.secret_keys)?);
    db.execute(
        "UPDATE connections SET status = ?2, status_reason = ?3, params = ?4, secret_keys = ?5, secrets = ?6, updated_at = ?7 WHERE id = ?1",
        &args![
            id.to_string().as_str(),
            update.status.as_str(),
            update.status_reason,
            &params,
            &secret_keys,
            update.secrets,
            update.now,
        ],
    )?;
    Ok(())
}

/// Marks a connection DELETED and wipes its credentials.
pub fn soft_delete(db: &Db<'_>, id: ConnectionId, now: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE connections SET status = 'DELETED', status_reason = NULL, secrets = NULL, secret_keys = '[]', updated_at = ?2 WHERE id = ?1",
        &args![id.to_string().as_str(), now],
    )?;
    Ok(())
}

/// The ids of an integration's live (not DELETED) connections.
pub fn live_for_integration(
    db: &Db<'_>,
    integration: IntegrationId,
) -> Result<Vec<ConnectionId>, StoreError> {
    let rows = db.query(
        "SELECT id FROM connections WHERE integration_id = ?1 AND status <> 'DELETED'",
        &args![integration.to_string().as_str()],
    )?;
    connection_ids(rows)
}

/// The connection ids in the first column of `rows`; a value that is not an id is skipped.
pub(super) fn connection_ids(rows: Vec<Row>) -> Result<Vec<ConnectionId>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        if let Ok(id) = row.get::<String>(0)?.parse() {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Soft-deletes every live connection of an integration; returns their ids.
pub fn delete_for_integration(
    db: &Db<'_>,
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
    db: &Db<'_>,
    entity: Option<&EntityId>,
) -> Result<Vec<(IntegrationId, u64)>, StoreError> {
    let rows = db.query(
        "SELECT integration_id, COUNT(*) FROM connections
         WHERE status = 'ACTIVE' AND (CAST(?1 AS TEXT) IS NULL OR entity_id = ?1) GROUP BY integration_id",
        &args![entity.map(EntityId::as_str)],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, count) = (row.get::<String>(0)?, row.get::<i64>(1)?);
        if let Ok(id) = id.parse() {
            out.push((id, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(out)
}

/// Every entity with the number of live connections it has.
pub fn entities(db: &Db<'_>) -> Result<Vec<(EntityId, String, u64)>, StoreError> {
    let rows = db.query(
        "SELECT e.id, e.created_at, (SELECT COUNT(*) FROM connections c WHERE c.entity_id = e.id AND c.status <> 'DELETED')
         FROM entities e ORDER BY e.id",
        &[],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, created, count) = (
            row.get::<String>(0)?,
            row.get::<String>(1)?,
            row.get::<i64>(2)?,
        );
        if let Ok(entity) = EntityId::parse(&id) {
            out.push((entity, created, u64::try_from(count).unwrap_or(0)));
        }
    }
    Ok(out)
}
