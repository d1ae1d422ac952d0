//! SQLite persistence (rusqlite, bundled SQLite). One file, WAL mode, `synchronous=FULL`,
//! foreign keys on. A small pool of connections (`pool`) lets reads run in parallel while
//! SQLite serializes writers; every write is one `BEGIN IMMEDIATE` transaction, so an
//! operation is either fully stored or not at all, and acknowledged means on disk. The
//! hot read path — a connection and its integration — is also served from an in-memory
//! row cache (`cache`, `hot`) that every write invalidates before it returns. The store
//! never sees plaintext secrets: it moves sealed blobs the service hands it.

pub mod api_keys;
pub mod audit;
mod by_id;
mod cache;
pub mod connections;
pub mod flows;
mod hot;
pub mod integrations;
pub mod keepalive;
pub mod migrate;
mod pool;
mod vault_row;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use api_keys::NewApiKey;
use cache::RowCache;
pub use cache::{Sealed, SealedConnection, SealedIntegration};
pub use connections::{ConnectionFilter, NewConnection, Order, SecretUpdate, Window};
pub use integrations::{IntegrationPatch, NewIntegration};
use pool::Pool;

use crate::vault::VaultRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database was written by a newer keyport (schema {found}, this build supports {supported})"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("the database has no vault header; it was not created by keyport or is damaged")]
    NoVault,
    #[error("stored JSON is malformed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no database connection became free: {0}")]
    Pool(#[from] r2d2::Error),
    /// A read that missed the row cache, or a write, inside [`crate::inline::attempt`].
    #[error(transparent)]
    WouldBlock(#[from] crate::inline::WouldBlock),
}

impl StoreError {
    /// Stable machine-readable code: a store failure is never the caller's doing.
    pub fn code(&self) -> &'static str {
        "internal"
    }
}

/// `synchronous=FULL`: a token refresh or a new credential acknowledged to a caller must
/// survive a crash or power loss, because a rotated refresh token that is lost cannot be
/// replayed. Writes are rare next to reads, so the cost is acceptable.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    pool: Pool,
    cache: RowCache,
}

const POOL_SIZE: u32 = 4;

impl Store {
    /// Reads the vault record without writing anything to the database file, so that a
    /// failed unlock leaves it byte-identical. `Ok(None)` when the file does not exist.
    pub fn peek_vault(path: &Path) -> Result<Option<VaultRecord>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let version = migrate::user_version(&conn)?;
        if version > migrate::LATEST {
            return Err(StoreError::TooNew {
                found: version,
                supported: migrate::LATEST,
            });
        }
        if version == 0 {
            return Err(StoreError::NoVault);
        }
        vault_row::read(&conn).map(Some)
    }

    /// Creates a new database holding `record`, schema and vault row in one transaction.
    pub fn create(path: &Path, record: &VaultRecord, now: &str) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        migrate::apply(&tx)?;
        vault_row::insert(&tx, record, now)?;
        tx.commit()?;
        drop(conn);
        Self::open(path)
    }

    /// Opens an existing database (after its vault was unlocked) and applies pending
    /// migrations. They run on a connection of their own before the pool opens, so that a
    /// database that cannot be opened fails here at once rather than after the pool's
    /// checkout timeout.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        {
            let mut conn = Connection::open(path)?;
            configure(&conn)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            migrate::apply(&tx)?;
            tx.commit()?;
        }
        Ok(Store {
            path: path.to_path_buf(),
            pool: pool::build(path.to_path_buf(), POOL_SIZE)?,
            cache: RowCache::new(cache::CONNECTION_BUDGET, cache::INTEGRATION_BUDGET),
        })
    }

    /// A connection of its own for an append-only log the row cache never holds (the audit
    /// log's writer thread): its writes take no pool slot and leave cached rows valid. Its
    /// commits are `synchronous=NORMAL`: in WAL mode they survive a crash of the process
    /// (a SIGKILL) and are atomic; only a power loss may take the newest back, never a
    /// credential (those are written through the pool, `FULL`).
    pub fn appender(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pooled connection: SQLite I/O follows, so never inside an inline attempt.
    fn checkout(&self) -> Result<pool::Conn, StoreError> {
        crate::inline::check()?;
        Ok(self.pool.get()?)
    }

    /// Runs `f` on a pooled connection. Reads only: changes belong in `write`. Should `f`
    /// change rows all the same, the row cache is invalidated before this returns.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.checkout()?;
        let before = conn.total_changes();
        let value = f(&conn);
        if conn.total_changes() != before {
            self.cache.changed();
        }
        value
    }

    /// Runs `f` on one pooled connection inside one read transaction: its reads see one
    /// snapshot, and SQLite takes its WAL read lock once rather than once per statement.
    /// Reads only, as `read`.
    pub fn snapshot<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.checkout()?;
        let before = conn.total_changes();
        let value = (|| -> Result<T, E> {
            let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
            let value = f(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(value)
        })();
        if conn.total_changes() != before {
            self.cache.changed();
        }
        value
    }

    /// Runs `f` in one immediate transaction; commits only if `f` succeeds. Durability is
    /// SQLite's (`synchronous=FULL`): when this returns `Ok`, the change is on disk. The row
    /// cache counts the write as begun before `BEGIN` and as ended after the transaction
    /// has, so no read served after this returns sees the rows as they were.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.checkout()?;
        let _writing = self.cache.writing();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Replaces the vault row (passphrase change): one row, one transaction. Returns the
    /// number of rows the statement changed.
    pub fn replace_vault(&self, record: &VaultRecord, now: &str) -> Result<usize, StoreError> {
        self.write(|tx| vault_row::replace(tx, record, now))
    }

    pub fn read_vault(&self) -> Result<VaultRecord, StoreError> {
        self.read(vault_row::read)
    }

    /// A new store in `dir` with a fake vault row (the store never opens it), for tests.
    #[cfg(test)]
    pub(crate) fn scratch(dir: &Path) -> Store {
        let record = VaultRecord {
            header: vec![1; 54],
            header_sha256: vec![2; 32],
            wrapped_dek: vec![3; 60],
        };
        match Store::create(&dir.join("keyport.db"), &record, "t0") {
            Ok(store) => store,
            Err(e) => unreachable!("a scratch store: {e}"),
        }
    }

    /// Folds the WAL into the main file; called on clean shutdown.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }
}

/// JSON helpers for TEXT columns.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(text)?)
}

/// A stored value that does not read as its type: the row is corrupt.
pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Json(serde::de::Error::custom(what))
}

/// Column `i` of a row, a JSON text, read as `T`.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    i: usize,
) -> Result<T, StoreError> {
    from_json(&row.get::<_, String>(i)?)
}

/// Column `i` of a row parsed as `T`; one that does not parse is `corrupt`, named by
/// `what` and the stored text.
pub(crate) fn parsed_column<T: std::str::FromStr>(
    row: &rusqlite::Row<'_>,
    i: usize,
    what: &str,
) -> Result<T, StoreError> {
    let raw: String = row.get(i)?;
    raw.parse().map_err(|_| corrupt(format!("{what} {raw}")))
}

/// Runs `sql`, an UPDATE of at most one row with the row's id as `?1` and the time as `?2`;
/// whether it changed that row (`false`: no such row, or already in that state).
pub(crate) fn update_one(
    db: &Connection,
    sql: &str,
    id: impl ToString,
    now: &str,
) -> Result<bool, StoreError> {
    Ok(db.execute(sql, rusqlite::params![id.to_string(), now])? == 1)
}
