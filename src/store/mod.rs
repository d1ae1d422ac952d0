//! Persistence: the tables keyport keeps, behind one narrow seam ([`db::Db`]) with a
//! backend per database engine: SQLite (`sqlite`, the default: one file, WAL,
//! `synchronous=FULL`) or PostgreSQL (`postgres`, for a database several machines reach;
//! same tables, same sealed blobs). Every write is one transaction, so an
//! operation is either fully stored or not at all, and acknowledged means durable. The
//! hot read path — a connection and its integration — is also served from an in-memory
//! row cache (`cache`, `hot`) that every write invalidates before it returns. The store
//! never sees plaintext secrets: it moves sealed blobs the service hands it.

pub mod api_keys;
pub mod audit;
mod by_id;
mod cache;
pub mod connections;
pub mod copy;
pub mod db;
pub mod flows;
mod hot;
pub mod integrations;
pub mod keepalive;
mod location;
mod postgres;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod vault_row;

pub use api_keys::NewApiKey;
use cache::RowCache;
pub use cache::{Sealed, SealedConnection, SealedIntegration};
pub use connections::{ConnectionFilter, NewConnection, Order, SecretUpdate, Window};
pub use copy::{CopyError, SEALED, SealedColumn, TABLES, Tally};
pub use db::Db;
pub use integrations::{IntegrationPatch, NewIntegration};
pub use location::{DatabaseUrl, Location, UrlError};

use crate::vault::VaultRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine's own error, as text: no engine's types leave the store.
    #[error("database error: {0}")]
    Database(String),
    #[error(
        "the database was written by a newer keyport (schema {found}, this build supports {supported})"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("the database has no vault header; it was not created by keyport or is damaged")]
    NoVault,
    /// A lock shared with other instances stayed taken past the caller's patience.
    #[error("busy: {0}")]
    Busy(String),
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

/// The database engine a store runs on.
#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

#[derive(Debug)]
pub struct Store {
    backend: Backend,
    cache: std::sync::Arc<RowCache>,
    /// Following other instances' changes (PostgreSQL, once `watch` was called).
    listener: std::sync::OnceLock<postgres::listen::Listener>,
}

/// A lock held across instances ([`Store::hold`]), released when dropped.
#[derive(Debug)]
#[must_use]
pub enum Held<'a> {
    /// SQLite: this process is the database's only server; its callers queue in memory.
    Alone,
    Shared(postgres::named::Held<'a>),
}

pub use postgres::listen::KeysHook;

/// The audit log writer's own connection: see [`Store::appender`].
#[derive(Debug)]
pub struct Appender(AppenderConn);

#[derive(Debug)]
enum AppenderConn {
    Sqlite(sqlite::Appender),
    Postgres(postgres::Appender),
}

impl Appender {
    /// Runs `f` outside any transaction (reads).
    pub fn read<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &mut self.0 {
            AppenderConn::Sqlite(a) => a.read(f),
            AppenderConn::Postgres(a) => a.read(f),
        }
    }

    /// Runs `f` in one transaction, committed only if `f` succeeds.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &mut self.0 {
            AppenderConn::Sqlite(a) => a.write(f),
            AppenderConn::Postgres(a) => a.write(f),
        }
    }
}

impl Store {
    /// Reads the vault record without writing anything to the database, so that a failed
    /// unlock leaves it as it was. `Ok(None)` when there is no database yet.
    pub fn peek_vault(at: impl Into<Location>) -> Result<Option<VaultRecord>, StoreError> {
        match at.into() {
            Location::File(path) => sqlite::peek_vault(&path),
            Location::Postgres(url) => postgres::peek_vault(&url),
        }
    }

    /// Creates a new database holding `record`, schema and vault row in one transaction.
    pub fn create(
        at: impl Into<Location>,
        record: &VaultRecord,
        now: &str,
    ) -> Result<Store, StoreError> {
        Ok(Self::with(match at.into() {
            Location::File(path) => Backend::Sqlite(sqlite::Sqlite::create(&path, record, now)?),
            Location::Postgres(url) => {
                Backend::Postgres(Box::new(postgres::Postgres::create(&url, record, now)?))
            }
        }))
    }

    /// Opens an existing database (after its vault was unlocked) and applies pending
    /// migrations.
    pub fn open(at: impl Into<Location>) -> Result<Store, StoreError> {
        Ok(Self::with(match at.into() {
            Location::File(path) => Backend::Sqlite(sqlite::Sqlite::open(&path)?),
            Location::Postgres(url) => Backend::Postgres(Box::new(postgres::Postgres::open(&url)?)),
        }))
    }

    /// Where this store's database is.
    pub fn location(&self) -> Location {
        match &self.backend {
            Backend::Sqlite(s) => Location::File(s.path().to_path_buf()),
            Backend::Postgres(p) => Location::Postgres(p.url().clone()),
        }
    }

    fn with(backend: Backend) -> Store {
        Store {
            backend,
            cache: std::sync::Arc::new(RowCache::new(
                cache::CONNECTION_BUDGET,
                cache::INTEGRATION_BUDGET,
            )),
            listener: std::sync::OnceLock::new(),
        }
    }

    /// Follows the changes other instances make to the database, for as long as this
    /// store lives: cached rows go stale as they commit, and `keys` reloads the API key
    /// ring when keys change (and whenever following resumes after a lost link). Called
    /// once by a serving keyport; nothing to follow on SQLite, which one process serves.
    pub fn watch(&self, keys: KeysHook) -> Result<(), StoreError> {
        let Backend::Postgres(p) = &self.backend else {
            return Ok(());
        };
        let listener = postgres::listen::start(p.url(), &self.cache, keys)?;
        // A second call would leave the first listener running: keep the first.
        let _ = self.listener.set(listener);
        Ok(())
    }

    /// Holds the lock `name` across every instance serving the database, waiting at most
    /// `patience`: work under it (a token renewal) runs once at a time across them all.
    /// Blocking; callers within this process must already queue among themselves.
    pub fn hold(&self, name: &str, patience: std::time::Duration) -> Result<Held<'_>, StoreError> {
        crate::inline::check()?;
        match &self.backend {
            Backend::Sqlite(_) => Ok(Held::Alone),
            Backend::Postgres(p) => Ok(Held::Shared(p.hold(name, patience)?)),
        }
    }

    /// A connection of its own for an append-only log the row cache never holds (the audit
    /// log's writer thread): its writes take no pool slot and leave cached rows valid.
    pub fn appender(&self) -> Result<Appender, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => Ok(Appender(AppenderConn::Sqlite(s.appender()?))),
            Backend::Postgres(p) => Ok(Appender(AppenderConn::Postgres(p.appender()?))),
        }
    }

    /// Runs `f` on a pooled connection. Reads only: changes belong in `write`. Should `f`
    /// change rows all the same, the row cache is invalidated before this returns. I/O
    /// follows, so never inside an inline attempt.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        crate::inline::check()?;
        let (value, changed) = match &self.backend {
            Backend::Sqlite(s) => s.read(f)?,
            Backend::Postgres(p) => p.read(f)?,
        };
        if changed {
            self.cache.changed();
        }
        Ok(value)
    }

    /// Runs `f` on one pooled connection inside one read transaction: its reads see one
    /// snapshot. Reads only, as `read`.
    pub fn snapshot<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        crate::inline::check().map_err(StoreError::from)?;
        let (value, changed) = match &self.backend {
            Backend::Sqlite(s) => s.snapshot(f)?,
            Backend::Postgres(p) => p.snapshot(f)?,
        };
        if changed {
            self.cache.changed();
        }
        Ok(value)
    }

    /// Runs `f` in one write transaction; commits only if `f` succeeds. When this returns
    /// `Ok`, the change is durable. The row cache counts the write as begun before the
    /// transaction begins and as ended after it has, so no read served after this returns
    /// sees the rows as they were.
    pub fn write<T, E>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        crate::inline::check().map_err(StoreError::from)?;
        let _writing = self.cache.writing();
        match &self.backend {
            Backend::Sqlite(s) => s.write(f),
            Backend::Postgres(p) => p.write(f),
        }
    }

    /// Replaces the vault row of the database at `at` (`keyport passwd`), whether or not a
    /// keyport serves it: one row, one transaction. Returns the number of rows changed.
    pub fn replace_vault_at(
        at: impl Into<Location>,
        record: &VaultRecord,
        now: &str,
    ) -> Result<usize, StoreError> {
        match at.into() {
            Location::File(path) => Store::open(Location::File(path))?.replace_vault(record, now),
            Location::Postgres(url) => postgres::Postgres::replace_vault(&url, record, now),
        }
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
    pub(crate) fn scratch(dir: &std::path::Path) -> Store {
        match Store::create(&dir.join("keyport.db"), &Self::scratch_record(), "t0") {
            Ok(store) => store,
            Err(e) => unreachable!("a scratch store: {e}"),
        }
    }

    #[cfg(test)]
    pub(crate) fn scratch_record() -> VaultRecord {
        VaultRecord {
            header: vec![1; 54],
            header_sha256: vec![2; 32],
            wrapped_dek: vec![3; 60],
        }
    }

    /// Folds SQLite's WAL into the main file; called on clean shutdown.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.checkpoint(),
            Backend::Postgres(_) => Ok(()),
        }
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
    row: &db::Row,
    i: usize,
) -> Result<T, StoreError> {
    from_json(&row.get::<String>(i)?)
}

/// Column `i` of a row parsed as `T`; one that does not parse is `corrupt`, named by
/// `what` and the stored text.
pub(crate) fn parsed_column<T: std::str::FromStr>(
    row: &db::Row,
    i: usize,
    what: &str,
) -> Result<T, StoreError> {
    let raw: String = row.get(i)?;
    raw.parse().map_err(|_| corrupt(format!("{what} {raw}")))
}

/// Runs `sql`, an UPDATE of at most one row with the row's id as `?1` and the time as `?2`;
/// whether it changed that row (`false`: no such row, or already in that state).
pub(crate) fn update_one(
    db: &Db<'_>,
    sql: &str,
    id: impl ToString,
    now: &str,
) -> Result<bool, StoreError> {
    Ok(db.execute(sql, &db::args![id.to_string().as_str(), now])? == 1)
}
