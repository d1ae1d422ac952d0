//! The single `vault` row: the header, its SHA-256 and the wrapped data key.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::vault::VaultRecord;

pub fn read(conn: &Connection) -> Result<VaultRecord, StoreError> {
    conn.query_row(
        "SELECT header, header_sha256, wrapped_dek FROM vault WHERE id = 1",
        [],
        |row| {
            Ok(VaultRecord {
                header: row.get(0)?,
                header_sha256: row.get(1)?,
                wrapped_dek: row.get(2)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NoVault)
}

pub fn insert(conn: &Connection, record: &VaultRecord, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO vault (id, header, header_sha256, wrapped_dek, updated_at) VALUES (1, ?1, ?2, ?3, ?4)",
        params![record.header, record.header_sha256, record.wrapped_dek, now],
    )?;
    Ok(())
}

pub fn replace(conn: &Connection, record: &VaultRecord, now: &str) -> Result<usize, StoreError> {
    let changed = conn.execute(
        "UPDATE vault SET header = ?1, header_sha256 = ?2, wrapped_dek = ?3, updated_at = ?4 WHERE id = 1",
        params![record.header, record.header_sha256, record.wrapped_dek, now],
    )?;
    if changed == 1 {
        Ok(changed)
    } else {
        Err(StoreError::NoVault)
    }
}
