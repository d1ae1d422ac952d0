//! The SQLite backend (rusqlite, bundled SQLite): one file, WAL mode, `synchronous=FULL`,
//! foreign keys on. A small pool of connections (`pool`) lets reads run in parallel while
//! SQLite serializes writers; every write is one `BEGIN IMMEDIATE` transaction, so an
//! operation is either fully stored or not at all, and acknowledged means on disk. The
//! only module that names rusqlite's types, besides [`super::db`]'s one variant.

pub mod migrate;
mod pool;

use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::db::{Conn, Db, Param, Row, Value};
use super::{StoreError, vault_row};
use crate::vault::VaultRecord;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
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

const POOL_SIZE: u32 = 4;

/// An open SQLite database: its file and the pool of connections to it.
#[derive(Debug)]
pub struct Sqlite {
    path: PathBuf,
    pool: pool::Pool,
}

/// Reads the vault record without writing anything to the database file, so that a failed
/// unlock leaves it byte-identical. `Ok(None)` when the file does not exist.
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
    vault_row::read(&Db::new(Conn::Sqlite(&conn))).map(Some)
}

/// Runs `f` in one immediate transaction on `conn`, committing only if it succeeds.
fn immediate<T, E: From<StoreError>>(
    conn: &mut Connection,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let value = f(&Db::new(Conn::Sqlite(&tx)))?;
    tx.commit().map_err(StoreError::from)?;
    Ok(value)
}

impl Sqlite {
    /// Creates a new database holding `record`, schema and vault row in one transaction.
    pub fn create(path: &Path, record: &VaultRecord, now: &str) -> Result<Sqlite, StoreError> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        immediate(&mut conn, |db| {
            migrate::apply(db)?;
            vault_row::insert(db, record, now)
        })?;
        drop(conn);
        Self::open(path)
    }

    /// Opens an existing database (after its vault was unlocked) and applies pending
    /// migrations. They run on a connection of their own before the pool opens, so that a
    /// database that cannot be opened fails here at once rather than after the pool's
    /// checkout timeout.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        {
            let mut conn = Connection::open(path)?;
            configure(&conn)?;
            immediate(&mut conn, |db| migrate::apply(db).map(drop))?;
        }
        Ok(Sqlite {
            path: path.to_path_buf(),
            pool: pool::build(path.to_path_buf(), POOL_SIZE)?,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled connection, outside any transaction.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let conn = self.pool.get().map_err(StoreError::from)?;
        let before = conn.total_changes();
        let db = Db::new(Conn::Sqlite(&conn));
        let value = f(&db);
        let changed = db.wrote() || conn.total_changes() != before;
        value.map(|v| (v, changed))
    }

    /// Runs `f` on one pooled connection inside one read transaction: its reads see one
    /// snapshot, and SQLite takes its WAL read lock once rather than once per statement.
    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let conn = self.pool.get().map_err(StoreError::from)?;
        let before = conn.total_changes();
        let mut wrote = false;
        let value = (|| -> Result<T, E> {
            let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
            let value = {
                let db = Db::new(Conn::Sqlite(&tx));
                let value = f(&db)?;
                wrote = db.wrote();
                value
            };
            tx.commit().map_err(StoreError::from)?;
            Ok(value)
        })();
        let changed = wrote || conn.total_changes() != before;
        value.map(|v| (v, changed))
    }

    /// Runs `f` in one immediate transaction; commits only if `f` succeeds. Durability is
    /// SQLite's (`synchronous=FULL`): when this returns `Ok`, the change is on disk.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        immediate(&mut conn, f)
    }

    /// A connection of its own for an append-only log the row cache never holds (the audit
    /// log's writer thread): its writes take no pool slot and leave cached rows valid. Its
    /// commits are `synchronous=NORMAL`: in WAL mode they survive a crash of the process
    /// (a SIGKILL) and are atomic; only a power loss may take the newest back, never a
    /// credential (those are written through the pool, `FULL`).
    pub fn appender(&self) -> Result<Appender, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Appender(conn))
    }

    /// Folds the WAL into the main file; called on clean shutdown.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.pool.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Runs `f` in one immediate transaction on the database file at `path`, creating it if
/// there is none; a file this created is removed again if `f` fails, and an existing one is
/// left as it was (its journal mode is changed to WAL only once `f` has committed).
pub(super) fn write_new<T, E: From<StoreError>>(
    path: &Path,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let existed = path.exists();
    let written = (|| {
        let mut conn = Connection::open(path).map_err(StoreError::from)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .map_err(StoreError::from)?;
        let value = immediate(&mut conn, f)?;
        configure(&conn)?;
        Ok(value)
    })();
    if written.is_err() && !existed {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
    written
}

/// The byte of the `-shm` file every connection to a WAL database keeps a shared lock on for
/// as long as it is open (SQLite's unix VFS: `UNIX_SHM_DMS`, 120 + 8).
const SHM_DMS: i64 = 128;

/// Another process holding the database at `path` open, if one does (a keyport serving it,
/// which keeps its pool's connections open): the process id holding the lock SQLite takes
/// on the shared-memory index of a WAL database, read with `F_GETLK`, which takes no lock.
pub(super) fn holder(path: &Path) -> Result<Option<String>, StoreError> {
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let file = match std::fs::File::open(&shm) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Database(format!("{}: {e}", path.display()))),
    };
    let mut probe = libc::flock {
        l_type: libc::F_WRLCK as _,
        l_whence: libc::SEEK_SET as _,
        l_start: SHM_DMS,
        l_len: 1,
        l_pid: 0,
    };
    fcntl(&file, FcntlArg::F_GETLK(&mut probe))
        .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
    let unlocked = libc::F_UNLCK as libc::c_short;
    Ok((probe.l_type != unlocked).then(|| format!("process {}", probe.l_pid)))
}

/// The audit writer's own connection (see [`Sqlite::appender`]).
#[derive(Debug)]
pub struct Appender(Connection);

impl Appender {
    pub fn read<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&Db::new(Conn::Sqlite(&self.0)))
    }

    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        immediate(&mut self.0, f)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(v),
            Param::Bool(b) => ValueRef::Integer(i64::from(b)),
            Param::Text(t) => ValueRef::Text(t.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let width = row.as_ref().column_count();
    let mut values = Vec::with_capacity(width);
    for i in 0..width {
        values.push(match row.get::<_, SqlValue>(i)? {
            SqlValue::Null => Value::Null,
            SqlValue::Integer(v) => Value::Int(v),
            // No column of keyport's is REAL; an expression yielding one is read as text.
            SqlValue::Real(v) => Value::Text(v.to_string()),
            SqlValue::Text(t) => Value::Text(t),
            SqlValue::Blob(b) => Value::Blob(b),
        });
    }
    Ok(Row(values))
}

pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?)
}

pub(super) fn query(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn for_each<E: From<StoreError>>(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
    mut each: impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    let mut stmt = conn.prepare(sql).map_err(StoreError::from)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        each(row(r).map_err(StoreError::from)?)?;
    }
    Ok(())
}

pub(super) fn batch(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    Ok(conn.execute_batch(sql)?)
}
