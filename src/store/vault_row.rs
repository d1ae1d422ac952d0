//! The single `vault` row: the header, its SHA-256 and the wrapped data key.

use super::StoreError;
use super::db::{Db, args};
use crate::vault::VaultRecord;

pub fn read(db: &Db<'_>) -> Result<VaultRecord, StoreError> {
    let row = db
        .query_opt(
            "SELECT header, header_sha256, wrapped_dek FROM vault WHERE id = 1",
            &[],
        )?
        .ok_or(StoreError::NoVault)?;
    Ok(VaultRecord {
        header: row.get(0)?,
        header_sha256: row.get(1)?,
        wrapped_dek: row.get(2)?,
    })
}

pub fn insert(db: &Db<'_>, record: &VaultRecord, now: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO vault (id, header, header_sha256, wrapped_dek, updated_at) VALUES (1, ?1, ?2, ?3, ?4)",
        &args![&record.header, &record.header_sha256, &record.wrapped_dek, now],
    )?;
    Ok(())
}

pub fn replace(db: &Db<'_>, record: &VaultRecord, now: &str) -> Result<usize, StoreError> {
    let changed = db.execute(
        "UPDATE vault SET header = ?1, header_sha256 = ?2, wrapped_dek = ?3, updated_at = ?4 WHERE id = 1",
        &args![&record.header, &record.header_sha256, &record.wrapped_dek, now],
    )?;
    if changed == 1 {
        Ok(changed)
    } else {
        Err(StoreError::NoVault)
    }
}
