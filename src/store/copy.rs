//! `keyport migrate`'s copy of one store into another, of either engine: every table keyport
//! keeps, row for row and byte for byte (sealed blobs, hashes and MACs as they are stored),
//! read in one snapshot of the source and written in one transaction of the destination,
//! which must hold no keyport data (all or nothing: a copy that fails leaves it as it was).
//!
//! The tables and the order they are written in (parents before the rows that refer to
//! them) are [`TABLES`]; their columns are read from each side's schema, so a column a
//! migration adds is copied without being named here. A table the schema has and this list
//! lacks makes the copy refuse rather than leave it behind; a test compares the list with
//! both engines' migrated schemas. Values move by the destination column's type (SQLite keeps
//! booleans as integers, PostgreSQL as `BOOLEAN`), and anything that would not move exactly
//! is refused. Each table's rows are also folded into a digest ([`Tally`]) independent of
//! row order and engine, so that the copy can be compared with its source.
//!
//! The store opens nothing: the sealed columns ([`SEALED`]) are handed to a caller holding
//! the data key, which opens them with the service's own code.

use std::collections::{BTreeMap, BTreeSet};

use ring::digest::{Context, SHA256};

use super::db::{Db, Dialect, Param, Row, Value};
use super::{Location, Store, StoreError, postgres, sqlite};

/// Every table keyport keeps, in the order a copy writes them. The schema version is not a
/// table here: each engine's migrations record it in the destination themselves.
pub const TABLES: &[&str] = &[
    "vault",
    "integrations",
    "entities",
    "connections",
    "oauth_flows",
    "api_keys",
    "audit_log",
    "audit_chain",
];

/// Tables an engine's migrations keep for their own bookkeeping (PostgreSQL's schema
/// version), created by the destination's migrations, never copied.
const BOOKKEEPING: &[&str] = &["keyport_schema"];

/// A column of sealed blobs: `column` of `table`, sealed with AAD naming the table, the row's
/// `row` value and the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub row: &'static str,
    pub column: &'static str,
}

/// Every column holding blobs the vault sealed.
pub const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "integrations",
        row: "id",
        column: "secrets",
    },
    SealedColumn {
        table: "connections",
        row: "id",
        column: "secrets",
    },
    SealedColumn {
        table: "oauth_flows",
        row: "connection_id",
        column: "secrets",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the destination is not empty: {0}; keyport migrate copies only into a new database")]
    NotEmpty(String),
    #[error("the {side}'s tables are not the ones this keyport copies: {detail}")]
    Schema { side: &'static str, detail: String },
    #[error("{table}.{column}: {what}")]
    Column {
        table: &'static str,
        column: String,
        what: String,
    },
}

/// What a table holds, as far as a copy is compared with its source: the number of rows
/// and a digest of them all, whatever their order and engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub table: &'static str,
    pub rows: u64,
    pub digest: [u8; 32],
}

impl Tally {
    fn new(table: &'static str) -> Tally {
        Tally {
            table,
            rows: 0,
            digest: [0; 32],
        }
    }

    /// Adds one row: the digest is the XOR of the rows' SHA-256 (rows are unique by their
    /// primary key, so none cancels another).
    fn add(&mut self, row: &Row) {
        let mut hash = Context::new(&SHA256);
        for value in &row.0 {
            match value {
                Value::Null => hash.update(&[0]),
                Value::Int(v) => hash.update(&[&[1][..], &v.to_le_bytes()].concat()),
                Value::Bool(b) => hash.update(&[&[1][..], &i64::from(*b).to_le_bytes()].concat()),
                Value::Text(t) => tagged(&mut hash, 2, t.as_bytes()),
                Value::Blob(b) => tagged(&mut hash, 3, b),
            }
        }
        for (d, h) in self.digest.iter_mut().zip(hash.finish().as_ref()) {
            *d ^= h;
        }
        self.rows += 1;
    }
}

fn tagged(hash: &mut Context, tag: u8, bytes: &[u8]) {
    hash.update(&[tag]);
    hash.update(&(bytes.len() as u64).to_le_bytes());
    hash.update(bytes);
}

/// How a column's values are bound in the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    Blob,
}

impl Kind {
    /// The kind of a declared SQLite type or a PostgreSQL `format_type`.
    fn of(declared: &str) -> Option<Kind> {
        let declared = declared.to_ascii_lowercase();
        if declared.contains("bool") {
            Some(Kind::Bool)
        } else if declared.contains("int") {
            Some(Kind::Int)
        } else if declared.contains("blob") || declared == "bytea" {
            Some(Kind::Blob)
        } else if declared.contains("text") || declared.contains("char") {
            Some(Kind::Text)
        } else {
            None
        }
    }
}

/// Each table's columns, by name, with their kinds.
type Schema = BTreeMap<&'static str, BTreeMap<String, Kind>>;

/// Every table of `db`'s schema (its current schema on PostgreSQL), but the engine's own.
fn table_names(db: &Db<'_>) -> Result<BTreeSet<String>, StoreError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        }
        Dialect::Postgres => {
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        }
    };
    db.query(sql, &[])?.iter().map(|row| row.get(0)).collect()
}

/// `table`'s columns as its schema declares them.
fn columns(
    db: &Db<'_>,
    table: &'static str,
    side: &'static str,
) -> Result<BTreeMap<String, Kind>, CopyError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT name, type FROM pragma_table_info(?1)",
        Dialect::Postgres => {
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname::text = ?1
               AND a.attnum > 0 AND NOT a.attisdropped"
        }
    };
    let mut out = BTreeMap::new();
    for row in db.query(sql, &[Param::Text(table)])? {
        let (name, declared): (String, String) = (row.get(0)?, row.get(1)?);
        let kind = Kind::of(&declared).ok_or_else(|| CopyError::Schema {
            side,
            detail: format!("{table}.{name} is of type {declared}, which no copy moves"),
        })?;
        out.insert(name, kind);
    }
    Ok(out)
}

/// The schema of `db`, checked to hold exactly [`TABLES`] (and the engine's bookkeeping).
fn schema(db: &Db<'_>, side: &'static str) -> Result<Schema, CopyError> {
    let found = table_names(db)?;
    let unknown: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|t| !TABLES.contains(t) && !BOOKKEEPING.contains(t))
        .collect();
    let missing: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| !found.contains(*t))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(CopyError::Schema {
            side,
            detail: format!("not copied: {unknown:?}; missing: {missing:?}"),
        });
    }
    TABLES
        .iter()
        .map(|&table| Ok((table, columns(db, table, side)?)))
        .collect()
}

/// Refuses a destination holding anything: a table keyport does not keep, or a row in one
/// it does. No tables at all, or a keyport schema with no rows, is empty.
fn ensure_empty(db: &Db<'_>) -> Result<(), CopyError> {
    let found = table_names(db)?;
    if let Some(table) = found
        .iter()
        .find(|t| !TABLES.contains(&t.as_str()) && !BOOKKEEPING.contains(&t.as_str()))
    {
        return Err(CopyError::NotEmpty(format!(
            "it has a table keyport does not keep ({table})"
        )));
    }
    // The vault first: the likeliest reason, and the clearest to name.
    for &table in TABLES.iter().filter(|t| found.contains(**t)) {
        let rows: i64 = db
            .query_opt(&format!("SELECT count(*) FROM \"{table}\""), &[])?
            .map(|row| row.get(0))
            .transpose()?
            .unwrap_or(0);
        if table == "vault" && rows > 0 {
            return Err(CopyError::NotEmpty("it holds a keyport vault".into()));
        }
        if rows > 0 {
            return Err(CopyError::NotEmpty(format!(
                "table {table} has {rows} rows"
            )));
        }
    }
    Ok(())
}

/// The columns of a table as both sides name them, in one order both share.
fn shared_columns(
    table: &'static str,
    source: &BTreeMap<String, Kind>,
    destination: &BTreeMap<String, Kind>,
) -> Result<Vec<(String, Kind)>, CopyError> {
    if source.keys().ne(destination.keys()) {
        return Err(CopyError::Schema {
            side: "destination",
            detail: format!(
                "{table} has columns {:?} in the source and {:?} here",
                source.keys().collect::<Vec<_>>(),
                destination.keys().collect::<Vec<_>>()
            ),
        });
    }
    Ok(destination
        .iter()
        .map(|(name, kind)| (name.clone(), *kind))
        .collect())
}

/// `SELECT` of `columns` from `table`, quoted.
fn select(table: &str, columns: &[(String, Kind)]) -> String {
    let list: Vec<String> = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    format!("SELECT {} FROM \"{table}\"", list.join(", "))
}

/// `value` as the destination's column of `kind` takes it, or why it cannot be.
fn bind<'v>(value: &'v Value, kind: Kind) -> Result<Param<'v>, String> {
    Ok(match (value, kind) {
        (Value::Null, _) => Param::Null,
        (Value::Int(v), Kind::Int) => Param::Int(*v),
        (Value::Bool(b), Kind::Int) => Param::Int(i64::from(*b)),
        (Value::Bool(b), Kind::Bool) => Param::Bool(*b),
        (Value::Int(v @ (0 | 1)), Kind::Bool) => Param::Bool(*v == 1),
        (Value::Text(t), Kind::Text) => Param::Text(t),
        (Value::Blob(b), Kind::Blob) => Param::Blob(b),
        (value, kind) => {
            // Name the value's kind, never its bytes: it may be a sealed blob or a hash.
            let what = match value {
                Value::Null => "null",
                Value::Int(_) => "an integer",
                Value::Bool(_) => "a boolean",
                Value::Text(_) => "text",
                Value::Blob(_) => "bytes",
            };
            return Err(format!("{what} cannot be stored in a {kind:?} column"));
        }
    })
}

/// How many values one `INSERT` binds at most: rows go in batches (one round trip each on
/// PostgreSQL, where a row at a time made a large audit log slow to copy), well under both
/// engines' limits (SQLite 32,766 placeholders, PostgreSQL 65,535).
const BATCH_VALUES: usize = 8_000;

/// One `INSERT` of `rows` rows into `columns` of `table`.
fn insert(table: &str, columns: &[(String, Kind)], rows: usize) -> String {
    let names: Vec<String> = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let width = columns.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO \"{table}\" ({}) VALUES {}",
        names.join(", "),
        tuples.join(", ")
    )
}

/// Writes `rows` into `table` in one statement.
fn flush(
    destination: &Db<'_>,
    table: &'static str,
    columns: &[(String, Kind)],
    rows: &[Row],
) -> Result<(), CopyError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut params = Vec::with_capacity(rows.len() * columns.len());
    for row in rows {
        for (value, (column, kind)) in row.0.iter().zip(columns) {
            params.push(bind(value, *kind).map_err(|what| CopyError::Column {
                table,
                column: column.clone(),
                what,
            })?);
        }
    }
    destination.execute(&insert(table, columns, rows.len()), &params)?;
    Ok(())
}

/// Copies every row of `table`; returns its tally.
fn copy_table(
    source: &Db<'_>,
    destination: &Db<'_>,
    table: &'static str,
    columns: &[(String, Kind)],
) -> Result<Tally, CopyError> {
    let per_batch = (BATCH_VALUES / columns.len().max(1)).max(1);
    let mut batch = Vec::with_capacity(per_batch);
    let mut tally = Tally::new(table);
    source.for_each(&select(table, columns), &[], |row: Row| {
        tally.add(&row);
        batch.push(row);
        if batch.len() == per_batch {
            flush(destination, table, columns, &batch)?;
            batch.clear();
        }
        Ok::<_, CopyError>(())
    })?;
    flush(destination, table, columns, &batch)?;
    Ok(tally)
}

/// Runs `f` in one write transaction on the database at `at`, created if it is a file that
/// does not exist yet (and removed again if `f` fails).
fn into_new<T>(
    at: &Location,
    f: impl FnOnce(&Db<'_>) -> Result<T, CopyError>,
) -> Result<T, CopyError> {
    match at {
        Location::File(path) => sqlite::write_new(path, f),
        Location::Postgres(url) => postgres::write_new(url, f),
    }
}

/// The schema's migrations, on whichever engine `db` is.
fn migrate(db: &Db<'_>) -> Result<u32, StoreError> {
    match db.dialect() {
        Dialect::Sqlite => sqlite::migrate::apply(db),
        Dialect::Postgres => postgres::apply_migrations(db),
    }
}

impl Store {
    /// Copies this store, as one snapshot sees it, into the empty database at `to`, in one
    /// transaction there. Returns the tally of each table as it was read.
    pub fn copy_into(&self, to: &Location) -> Result<Vec<Tally>, CopyError> {
        self.snapshot(|source| {
            let from = schema(source, "source")?;
            into_new(to, |destination| {
                ensure_empty(destination)?;
                migrate(destination)?;
                let into = schema(destination, "destination")?;
                TABLES
                    .iter()
                    .map(|table| {
                        let columns = shared_columns(table, &from[table], &into[table])?;
                        copy_table(source, destination, table, &columns)
                    })
                    .collect()
            })
        })
    }

    /// The tally of every table, in one snapshot.
    pub fn tally(&self) -> Result<Vec<Tally>, CopyError> {
        self.snapshot(|db| {
            let tables = schema(db, "copy")?;
            TABLES
                .iter()
                .map(|&table| {
                    let columns: Vec<(String, Kind)> = tables[table]
                        .iter()
                        .map(|(name, kind)| (name.clone(), *kind))
                        .collect();
                    let mut tally = Tally::new(table);
                    db.for_each(&select(table, &columns), &[], |row| {
                        tally.add(&row);
                        Ok::<_, CopyError>(())
                    })?;
                    Ok(tally)
                })
                .collect()
        })
    }

    /// Calls `each` with every sealed blob this store holds (its column, the row it names in
    /// its AAD, the blob), in one snapshot; returns how many there were.
    pub fn each_sealed<E: From<StoreError>>(
        &self,
        mut each: impl FnMut(&SealedColumn, &str, &[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.snapshot(|db| {
            let mut count = 0;
            for sealed in SEALED {
                let SealedColumn { table, row, column } = sealed;
                let sql = format!(
                    "SELECT \"{row}\", \"{column}\" FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"
                );
                db.for_each(&sql, &[], |r| {
                    count += 1;
                    each(sealed, &r.get::<String>(0)?, &r.get::<Vec<u8>>(1)?)
                })?;
            }
            Ok(count)
        })
    }

    /// Who is serving the database at `at`, if anyone: on SQLite, a process holding the
    /// file open (its shared-memory index); on PostgreSQL, connections a `keyport serve`
    /// opened (they name themselves by `application_name`).
    pub fn served(at: &Location) -> Result<Option<String>, StoreError> {
        match at {
            Location::File(path) => sqlite::holder(path),
            Location::Postgres(url) => postgres::serving(url),
        }
    }
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
