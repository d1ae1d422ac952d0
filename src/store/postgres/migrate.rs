//! Forward-only schema migrations for PostgreSQL: the same steps as SQLite's, numbered
//! alike, so a schema version means the same tables on both. The version is kept in a
//! one-row table, `keyport_schema`, set in the transaction that applies the steps (all
//! pending ones together, under the write lock). A database written by a newer keyport is
//! refused rather than guessed at.

use postgres::Client;

use crate::store::StoreError;
use crate::store::db::{Db, apply_steps, args};

/// Migration `i` (1-based) brings the schema from version `i - 1` to `i`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_oauth_flows.sql"),
    include_str!("../migrations/postgres/0003_key_restrictions.sql"),
    include_str!("../migrations/postgres/0004_audit.sql"),
    include_str!("../migrations/postgres/0005_key_approval.sql"),
];

pub const LATEST: u32 = MIGRATIONS.len() as u32;

fn as_version(found: i64) -> u32 {
    u32::try_from(found).unwrap_or(u32::MAX)
}

/// The schema version, without writing anything; `None` when keyport never migrated this
/// database.
pub fn version(client: &mut Client) -> Result<Option<u32>, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('keyport_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt("SELECT version FROM keyport_schema WHERE id = 1", &[])?;
    Ok(row
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()?
        .map(as_version))
}

/// Applies every pending migration inside the transaction `db`; returns the version reached.
pub fn apply(db: &Db<'_>) -> Result<u32, StoreError> {
    let exists: bool = db
        .query_opt("SELECT to_regclass('keyport_schema') IS NOT NULL", &[])?
        .map(|row| row.get(0))
        .transpose()?
        .unwrap_or(false);
    if !exists {
        db.batch(
            "CREATE TABLE keyport_schema (
                 id      BIGINT PRIMARY KEY CHECK (id = 1),
                 version BIGINT NOT NULL
             )",
        )?;
    }
    let current = db
        .query_opt("SELECT version FROM keyport_schema WHERE id = 1", &[])?
        .map(|row| row.get::<i64>(0))
        .transpose()?
        .map_or(0, as_version);
    apply_steps(db, current, MIGRATIONS, |db, reached| {
        db.execute(
            "INSERT INTO keyport_schema (id, version) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            &args![i64::from(reached)],
        )
        .map(|_| ())
    })
}
