//! Reading one row by its id, the same for every table the row cache holds: the row, the
//! row with its sealed secrets (the column after the row's own) and its weight in the
//! cache (worked out from the row's text columns, whatever the table), or the sealed
//! secrets alone.

use super::StoreError;
use super::cache::{SealedRow, weight};
use super::db::{Db, Row, args};

/// How a table's rows are read: the `SELECT` list, and the read of one row into the domain
/// type.
pub(super) struct Table<T> {
    pub name: &'static str,
    /// The row's columns, comma-separated; the sealed secrets come right after them.
    pub columns: &'static str,
    pub read: fn(&Row) -> Result<T, StoreError>,
}

impl<T> Table<T> {
    /// How many columns `columns` names.
    fn width(&self) -> usize {
        self.columns.split(',').count()
    }

    pub fn get(&self, db: &Db<'_>, id: String) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT {} FROM {} WHERE id = ?1", self.columns, self.name);
        db.query_opt(&sql, &args![&id])?
            .map(|row| (self.read)(&row))
            .transpose()
    }

    /// The row, its sealed secrets, and its weight in the row cache, in one statement.
    pub fn get_sealed(
        &self,
        db: &Db<'_>,
        id: String,
    ) -> Result<Option<(SealedRow<T>, u64)>, StoreError> {
        let sql = format!(
            "SELECT {}, secrets FROM {} WHERE id = ?1",
            self.columns, self.name
        );
        let Some(found) = db.query_opt(&sql, &args![&id])? else {
            return Ok(None);
        };
        let width = self.width();
        let secrets: Option<Vec<u8>> = found.get(width)?;
        let weight = weight(found.text_len(width), secrets.as_deref());
        let row = (self.read)(&found)?;
        Ok(Some((SealedRow { row, secrets }, weight)))
    }

    pub fn secrets(&self, db: &Db<'_>, id: String) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT secrets FROM {} WHERE id = ?1", self.name);
        Ok(db
            .query_opt(&sql, &args![&id])?
            .map(|row| row.get::<Option<Vec<u8>>>(0))
            .transpose()?
            .flatten())
    }
}

/// A cached table's [`Table`] (its `COLUMNS`, each row read by its `read`) and its reads by
/// typed id — `get`, `get_sealed` and `secrets` — declared once for every table the row
/// cache holds: `by_id_table!("connections", "connection", ConnectionId => Connection)`.
macro_rules! by_id_table {
    ($name:literal, $what:literal, $id:ty => $row:ty) => {
        const TABLE: super::by_id::Table<$row> = super::by_id::Table {
            name: $name,
            columns: COLUMNS,
            read,
        };

        #[doc = concat!("One ", $what, ".")]
        pub fn get(db: &super::Db<'_>, id: $id) -> Result<Option<$row>, StoreError> {
            TABLE.get(db, id.to_string())
        }

        #[doc = concat!("One ", $what, " with its sealed secrets, in one statement, and its")]
        /// weight in the row cache.
        pub fn get_sealed(
            db: &super::Db<'_>,
            id: $id,
        ) -> Result<Option<(super::cache::SealedRow<$row>, u64)>, StoreError> {
            TABLE.get_sealed(db, id.to_string())
        }

        #[doc = concat!("The sealed secrets of one ", $what, ".")]
        pub fn secrets(db: &super::Db<'_>, id: $id) -> Result<Option<Vec<u8>>, StoreError> {
            TABLE.secrets(db, id.to_string())
        }
    };
}
pub(super) use by_id_table;
