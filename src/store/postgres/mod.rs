//! The PostgreSQL backend: the synchronous `postgres` client in an `r2d2` pool. Every
//! closure runs inside one transaction: reads in READ COMMITTED, snapshots in REPEATABLE
//! READ (one consistent view, as SQLite's read transaction), and writes in READ COMMITTED
//! after taking one transaction-scoped advisory lock ([`WRITE_LOCK`]). That lock is what
//! SQLite's `BEGIN IMMEDIATE` is: writers run one at a time, each seeing every write
//! committed before it, so a read-then-write (a refresh, a flow marked used) cannot
//! interleave with another and no write ever fails to serialize. PostgreSQL commits are
//! durable when acknowledged (`synchronous_commit` is the server's, on by default); only
//! the audit appender turns it off for its own connection, as SQLite's appender runs
//! `synchronous=NORMAL`.
//!
//! The client runs a runtime of its own and must never be called on an async worker: the
//! store is reached only from blocking threads (`web::block`, the audit writer, keep-alive),
//! and `crate::inline::check` refuses I/O inside an inline attempt.

mod migrate;
mod value;

use postgres::{Client, IsolationLevel, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use super::db::{Conn, Db, Param, Row};
use super::location::DatabaseUrl;
use super::{StoreError, vault_row};
use crate::vault::VaultRecord;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The advisory lock every write transaction takes first ("keyport" in ASCII).
pub const WRITE_LOCK: i64 = 0x006b_6579_706f_7274;

/// The session-level advisory lock a serving keyport holds for as long as it runs: the row
/// cache assumes its process is the database's only writer, so a second keyport on the same
/// database is refused until several instances are supported.
pub const INSTANCE_LOCK: i64 = WRITE_LOCK + 1;

const POOL_SIZE: u32 = 8;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// An open PostgreSQL database.
pub struct Postgres {
    url: DatabaseUrl,
    pool: Pool,
    /// The connection holding [`INSTANCE_LOCK`]; closing it (dropping the store, or the
    /// process ending however it ends) releases the lock.
    _instance: std::sync::Mutex<Client>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn config(url: &DatabaseUrl) -> Result<postgres::Config, StoreError> {
    url.expose_secret()
        .parse()
        // The parser's message may quote the URL: name it by its redacted form instead.
        .map_err(|_| StoreError::Database(format!("{url}: not a valid connection URL")))
}

fn connect(url: &DatabaseUrl) -> Result<Client, StoreError> {
    Ok(config(url)?.connect(NoTls)?)
}

/// Runs `f` in a transaction of `level` on `client`, committing only if `f` succeeds (a
/// transaction dropped uncommitted rolls back). `lock`: take the write lock first.
fn transaction<T, E: From<StoreError>>(
    client: &mut Client,
    level: IsolationLevel,
    lock: bool,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<(T, bool), E> {
    let mut tx = client
        .build_transaction()
        .isolation_level(level)
        .start()
        .map_err(StoreError::from)?;
    if lock {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(StoreError::from)?;
    }
    let db = Db::new(Conn::Postgres(std::cell::RefCell::new(tx)));
    let value = f(&db)?;
    let wrote = db.wrote();
    db.into_postgres()?.commit().map_err(StoreError::from)?;
    Ok((value, wrote))
}

/// Reads the vault record without writing anything. `Ok(None)` when the database has no
/// keyport schema yet.
pub fn peek_vault(url: &DatabaseUrl) -> Result<Option<VaultRecord>, StoreError> {
    let mut client = connect(url)?;
    let Some(version) = migrate::version(&mut client)? else {
        return Ok(None);
    };
    if version > migrate::LATEST {
        return Err(StoreError::TooNew {
            found: version,
            supported: migrate::LATEST,
        });
    }
    let (record, _) = transaction(&mut client, IsolationLevel::ReadCommitted, false, |db| {
        vault_row::read(db)
    })?;
    Ok(Some(record))
}

/// How long a starting keyport waits for [`INSTANCE_LOCK`]: a keyport that stopped or was
/// killed a moment ago releases it as soon as the server sees its connection close.
const INSTANCE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection holding [`INSTANCE_LOCK`], or `InUse` if another keyport keeps it.
fn alone(url: &DatabaseUrl) -> Result<Client, StoreError> {
    let mut instance = connect(url)?;
    let deadline = crate::clock::Deadline::after(INSTANCE_WAIT);
    loop {
        let alone: bool = instance
            .query_one("SELECT pg_try_advisory_lock($1)", &[&INSTANCE_LOCK])?
            .try_get(0)?;
        if alone {
            return Ok(instance);
        }
        if deadline.passed() {
            return Err(StoreError::InUse);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl Postgres {
    /// Creates the schema and the vault row in one transaction.
    pub fn create(url: &DatabaseUrl, record: &VaultRecord, now: &str) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, true, |db| {
            migrate::apply(db)?;
            vault_row::insert(db, record, now)
        })?;
        Self::open(url)
    }

    /// Opens the database and applies pending migrations (under the write lock, so two
    /// instances starting together migrate once).
    pub fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, true, |db| {
            migrate::apply(db)
        })?;
        let instance = alone(url)?;
        let manager = PostgresConnectionManager::new(config(url)?, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(manager)?;
        Ok(Postgres {
            url: url.clone(),
            pool,
            _instance: std::sync::Mutex::new(instance),
        })
    }

    /// Replaces the vault row on a connection of its own, without [`INSTANCE_LOCK`], so
    /// that `keyport passwd` works while a keyport serves the database (which keeps its
    /// unlocked data key, the same under the new passphrase).
    pub fn replace_vault(
        url: &DatabaseUrl,
        record: &VaultRecord,
        now: &str,
    ) -> Result<usize, StoreError> {
        let mut client = connect(url)?;
        let (changed, _) = transaction(&mut client, IsolationLevel::ReadCommitted, true, |db| {
            migrate::apply(db)?;
            vault_row::replace(db, record, now)
        })?;
        Ok(changed)
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, false, f)
    }

    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::RepeatableRead, false, f)
    }

    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, true, f).map(|(v, _)| v)
    }

    /// The audit writer's own connection, its commits asynchronous (see the module).
    pub fn appender(&self) -> Result<Appender, StoreError> {
        let mut client = connect(&self.url)?;
        client.batch_execute("SET synchronous_commit = off")?;
        Ok(Appender(client))
    }
}

/// The audit writer's own connection.
pub struct Appender(Client);

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender").finish_non_exhaustive()
    }
}

impl Appender {
    pub fn read<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        transaction(&mut self.0, IsolationLevel::ReadCommitted, false, f).map(|(v, _)| v)
    }

    /// One transaction; the audit log has one writer, so it takes no write lock.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        transaction(&mut self.0, IsolationLevel::ReadCommitted, false, f).map(|(v, _)| v)
    }
}

/// `?N` placeholders as PostgreSQL spells them, `$N`.
fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn bind<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

pub(super) fn execute(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<usize, StoreError> {
    let changed = tx.execute(dollars(sql).as_str(), &bind(params))?;
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}

pub(super) fn query(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<Row>, StoreError> {
    tx.query(dollars(sql).as_str(), &bind(params))?
        .iter()
        .map(value::row)
        .collect()
}

pub(super) fn for_each<E: From<StoreError>>(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
    mut each: impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut rows = tx
        .query_raw(dollars(sql).as_str(), params.iter())
        .map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        each(value::row(&row)?)?;
    }
    Ok(())
}

pub(super) fn batch(tx: &mut Transaction<'_>, sql: &str) -> Result<(), StoreError> {
    Ok(tx.batch_execute(sql)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_renumbered_and_nothing_else_changes() {
        assert_eq!(
            super::dollars("SELECT '?' , json ?? x FROM t WHERE a = ?1 AND b IN (?2, ?10)"),
            "SELECT '?' , json ?? x FROM t WHERE a = $1 AND b IN ($2, $10)"
        );
    }
}
