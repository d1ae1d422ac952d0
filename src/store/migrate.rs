//! Forward-only schema migrations, embedded in the binary and tracked in
//! `PRAGMA user_version`. All pending migrations run in one transaction, so a database is
//! either at its old version or fully at the new one. A database written by a newer
//! keyport is refused rather than guessed at.

use rusqlite::Transaction;

use super::StoreError;

/// Migration `i` (1-based) brings the schema from version `i - 1` to `i`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_oauth_flows.sql"),
    include_str!("migrations/0003_key_restrictions.sql"),
    include_str!("migrations/0004_audit.sql"),
    include_str!("migrations/0005_key_approval.sql"),
];

pub const LATEST: u32 = MIGRATIONS.len() as u32;

pub fn user_version(conn: &rusqlite::Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Applies every pending migration inside `tx`; returns the version reached.
pub fn apply(tx: &Transaction<'_>) -> Result<u32, StoreError> {
    let current = user_version(tx)?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
    }
    Ok(LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() -> Result<(), StoreError> {
        let mut conn = rusqlite::Connection::open_in_memory()?;
        let tx = conn.transaction()?;
        assert_eq!(apply(&tx)?, LATEST);
        tx.commit()?;
        let tx = conn.transaction()?;
        assert_eq!(apply(&tx)?, LATEST, "second run is a no-op");
        tx.commit()?;
        conn.pragma_update(None, "user_version", LATEST + 1)?;
        let tx = conn.transaction()?;
        assert!(matches!(apply(&tx), Err(StoreError::TooNew { .. })));
        Ok(())
    }
}
