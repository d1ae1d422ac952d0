//! Forward-only schema migrations for SQLite, embedded in the binary and tracked in
//! `PRAGMA user_version`. All pending migrations run in one transaction, so a database is
//! either at its old version or fully at the new one. A database written by a newer
//! keyport is refused rather than guessed at.

use rusqlite::Connection;

use crate::store::StoreError;
use crate::store::db::{Db, apply_steps};

/// Migration `i` (1-based) brings the schema from version `i - 1` to `i`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_oauth_flows.sql"),
    include_str!("../migrations/sqlite/0003_key_restrictions.sql"),
    include_str!("../migrations/sqlite/0004_audit.sql"),
    include_str!("../migrations/sqlite/0005_key_approval.sql"),
];

pub const LATEST: u32 = MIGRATIONS.len() as u32;

pub fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

fn version(db: &Db<'_>) -> Result<u32, StoreError> {
    let found: i64 = db
        .query_opt("PRAGMA user_version", &[])?
        .map(|row| row.get(0))
        .transpose()?
        .unwrap_or(0);
    Ok(u32::try_from(found).unwrap_or(u32::MAX))
}

/// Applies every pending migration inside the transaction `db`; returns the version reached.
pub fn apply(db: &Db<'_>) -> Result<u32, StoreError> {
    apply_steps(db, version(db)?, MIGRATIONS, |db, reached| {
        db.batch(&format!("PRAGMA user_version = {reached}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Conn;

    #[test]
    fn migrates_once_and_refuses_newer() -> Result<(), StoreError> {
        let mut conn = rusqlite::Connection::open_in_memory()?;
        let tx = conn.transaction()?;
        assert_eq!(apply(&Db::new(Conn::Sqlite(&tx)))?, LATEST);
        tx.commit()?;
        let tx = conn.transaction()?;
        assert_eq!(
            apply(&Db::new(Conn::Sqlite(&tx)))?,
            LATEST,
            "second run is a no-op"
        );
        tx.commit()?;
        conn.pragma_update(None, "user_version", LATEST + 1)?;
        let tx = conn.transaction()?;
        assert!(matches!(
            apply(&Db::new(Conn::Sqlite(&tx))),
            Err(StoreError::TooNew { .. })
        ));
        Ok(())
    }
}
