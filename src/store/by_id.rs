//! Reading one row by its id, the same for every table the row cache holds: the row, the
//! row with its sealed secrets (the column after the row's own) and its weight in the
//! cache, or the sealed secrets alone.

use rusqlite::{Connection, OptionalExtension, Row};

use super::StoreError;
use super::cache::{SealedRow, weight};

/// How a table's rows are read: the `SELECT` list, the raw row, its text size, and the
/// parse into the domain type.
pub(super) struct Table<R, T> {
    pub name: &'static str,
    pub columns: &'static str,
    /// How many columns `columns` names; the sealed secrets come right after them.
    pub width: usize,
    pub from_row: fn(&Row<'_>) -> rusqlite::Result<R>,
    pub text_len: fn(&R) -> usize,
    pub finish: fn(R) -> Result<T, StoreError>,
}

impl<R, T> Table<R, T> {
    pub fn get(&self, db: &Connection, id: String) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT {} FROM {} WHERE id = ?1", self.columns, self.name);
        // Cached: this runs on every read that misses the row cache.
        db.prepare_cached(&sql)?
            .query_row([id], self.from_row)
            .optional()?
            .map(self.finish)
            .transpose()
    }

    /// The row, its sealed secrets, and its weight in the row cache, in one statement.
    pub fn get_sealed(
        &self,
        db: &Connection,
        id: String,
    ) -> Result<Option<(SealedRow<T>, u64)>, StoreError> {
        let sql = format!(
            "SELECT {}, secrets FROM {} WHERE id = ?1",
            self.columns, self.name
        );
        let found = db
            .prepare_cached(&sql)?
            .query_row([id], |r| Ok(((self.from_row)(r)?, r.get(self.width)?)))
            .optional()?;
        let Some((raw, secrets)) = found else {
            return Ok(None);
        };
        let secrets: Option<Vec<u8>> = secrets;
        let weight = weight((self.text_len)(&raw), secrets.as_deref());
        let row = (self.finish)(raw)?;
        Ok(Some((SealedRow { row, secrets }, weight)))
    }

    pub fn secrets(&self, db: &Connection, id: String) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT secrets FROM {} WHERE id = ?1", self.name);
        Ok(db
            .prepare_cached(&sql)?
            .query_row([id], |r| r.get(0))
            .optional()?
            .flatten())
    }
}

/// A table's reads by its typed id — `get`, `get_sealed` and `secrets` over its [`Table`]
/// `TABLE` — declared once for every table the row cache holds.
macro_rules! reads_by_id {
    ($id:ty, $row:ty, $what:literal) => {
        #[doc = concat!("One ", $what, ".")]
        pub fn get(db: &rusqlite::Connection, id: $id) -> Result<Option<$row>, StoreError> {
            TABLE.get(db, id.to_string())
        }

        #[doc = concat!("One ", $what, " with its sealed secrets, in one statement, and its")]
        /// weight in the row cache.
        pub fn get_sealed(
            db: &rusqlite::Connection,
            id: $id,
        ) -> Result<Option<(super::cache::SealedRow<$row>, u64)>, StoreError> {
            TABLE.get_sealed(db, id.to_string())
        }

        #[doc = concat!("The sealed secrets of one ", $what, ".")]
        pub fn secrets(db: &rusqlite::Connection, id: $id) -> Result<Option<Vec<u8>>, StoreError> {
            TABLE.secrets(db, id.to_string())
        }
    };
}
pub(super) use reads_by_id;
