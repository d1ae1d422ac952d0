//! The PostgreSQL backend: the synchronous `postgres` client in an `r2d2` pool. Every
//! closure runs inside one transaction: reads in READ COMMITTED, snapshots in REPEATABLE
//! READ (one consistent view, as SQLite's read transaction), and writes in READ COMMITTED
//! after taking one transaction-scoped advisory lock ([`WRITE_LOCK`]). That lock is what
//! SQLite's `BEGIN IMMEDIATE` is: writers run one at a time, each seeing every write
//! committed before it, so a read-then-write (a refresh, a flow marked used) cannot
//! interleave with another and no write ever fails to serialize — across every instance
//! on the database, since the lock is the server's. PostgreSQL commits are durable when
//! acknowledged (`synchronous_commit` is the server's, on by default); only the audit
//! appender turns it off for its own connection, as SQLite's appender runs
//! `synchronous=NORMAL`.
//!
//! Several `keyport serve` instances may share a database: writes announce themselves to
//! the others (`listen`), and a token renewal holds a named lock across instances
//! (`named`) from before its token request until its result is committed.
//!
//! The client runs a runtime of its own and must never be called on an async worker: the
//! store is reached only from blocking threads (`web::block`, the audit writer, keep-alive),
//! and `crate::inline::check` refuses I/O inside an inline attempt.

pub(super) mod listen;
mod migrate;
pub(super) mod named;
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

/// The advisory lock every audit append takes first: one chain, one appender at a time.
pub const AUDIT_LOCK: i64 = WRITE_LOCK + 2;

const POOL_SIZE: u32 = 8;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// An open PostgreSQL database.
pub struct Postgres {
    url: DatabaseUrl,
    pool: Pool,
    /// The connection holding this instance's named locks.
    named: named::Locks,
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

/// The advisory lock a transaction takes before its first statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lock {
    /// None: reads, and the listener's reloads.
    None,
    /// [`WRITE_LOCK`]: the store's writes; one that changed rows tells the other instances
    /// when it commits (`listen`).
    Write,
    /// [`AUDIT_LOCK`]: the audit log's appends, which the row cache never holds.
    Audit,
}

/// Runs `f` in a transaction of `level` on `client`, committing only if `f` succeeds (a
/// transaction dropped uncommitted rolls back). Returns whether `f` wrote.
fn transaction<T, E: From<StoreError>>(
    client: &mut Client,
    level: IsolationLevel,
    lock: Lock,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<(T, bool), E> {
    let mut tx = client
        .build_transaction()
        .isolation_level(level)
        .start()
        .map_err(StoreError::from)?;
    let key = match lock {
        Lock::None => None,
        Lock::Write => Some(WRITE_LOCK),
        Lock::Audit => Some(AUDIT_LOCK),
    };
    if let Some(key) = key {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
            .map_err(StoreError::from)?;
    }
    let db = Db::new(Conn::Postgres(std::cell::RefCell::new(tx)));
    let value = f(&db)?;
    let wrote = db.wrote();
    let mut tx = db.into_postgres()?;
    if wrote && lock != Lock::Audit {
        announce(&mut tx, listen::ROWS)?;
    }
    tx.commit().map_err(StoreError::from)?;
    Ok((value, wrote))
}

/// Tells the other instances, once `tx` commits, that it changed `what` (`listen`).
pub(super) fn announce(tx: &mut Transaction<'_>, what: &str) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&listen::CHANNEL, &what])?;
    Ok(())
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
    let (record, _) = transaction(
        &mut client,
        IsolationLevel::ReadCommitted,
        Lock::None,
        vault_row::read,
    )?;
    Ok(Some(record))
}

impl Postgres {
    /// Creates the schema and the vault row in one transaction.
    pub fn create(url: &DatabaseUrl, record: &VaultRecord, now: &str) -> Result<Self, StoreError> {
        write_new(url, |db| {
            migrate::apply(db)?;
            vault_row::insert(db, record, now)
        })?;
        Self::open(url)
    }

    /// Opens the database and applies pending migrations (under the write lock, so
    /// instances starting together migrate once). Other instances may serve it too.
    pub fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        write_new(url, migrate::apply)?;
        let mut pooled = config(url)?;
        // How `keyport migrate` (and an administrator) tells a serving keyport's connections.
        pooled.application_name(SERVING);
        let manager = PostgresConnectionManager::new(pooled, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(manager)?;
        Ok(Postgres {
            url: url.clone(),
            pool,
            named: named::Locks::new(url),
        })
    }

    /// Replaces the vault row on a connection of its own, so that `keyport passwd` works
    /// while keyport instances serve the database (they keep their unlocked data key, the
    /// same under the new passphrase).
    pub fn replace_vault(
        url: &DatabaseUrl,
        record: &VaultRecord,
        now: &str,
    ) -> Result<usize, StoreError> {
        write_new(url, |db| {
            migrate::apply(db)?;
            vault_row::replace(db, record, now)
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Holds the lock `name` across every instance on the database, waiting at most
    /// `patience` for it.
    pub fn hold(
        &self,
        name: &str,
        patience: std::time::Duration,
    ) -> Result<named::Held<'_>, StoreError> {
        self.named.hold(name, patience)
    }

    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, Lock::None, f)
    }

    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<(T, bool), E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::RepeatableRead, Lock::None, f)
    }

    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut client = self.pool.get().map_err(StoreError::from)?;
        transaction(&mut client, IsolationLevel::ReadCommitted, Lock::Write, f).map(|(v, _)| v)
    }

    /// The audit writer's own connection, its commits asynchronous (see the module).
    pub fn appender(&self) -> Result<Appender, StoreError> {
        let mut client = connect(&self.url)?;
        client.batch_execute("SET synchronous_commit = off")?;
        Ok(Appender(client))
    }
}

/// Runs `f` in one write transaction on a connection of its own (schema set-up, the vault
/// row, a copy into a new database), committing only if `f` succeeds.
pub(super) fn write_new<T, E: From<StoreError>>(
    url: &DatabaseUrl,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let mut client = connect(url)?;
    transaction(&mut client, IsolationLevel::ReadCommitted, Lock::Write, f).map(|(v, _)| v)
}

/// Applies pending migrations in the transaction `db`.
pub(super) fn apply_migrations(db: &Db<'_>) -> Result<u32, StoreError> {
    migrate::apply(db)
}

/// The `application_name` of a serving keyport's connections.
pub const SERVING: &str = "keyport serve";

/// How many connections of a serving keyport are open on the database at `url` (but ours),
/// if any.
pub(super) fn serving(url: &DatabaseUrl) -> Result<Option<String>, StoreError> {
    let mut client = connect(url)?;
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1
               AND pid <> pg_backend_pid()",
            &[&SERVING],
        )?
        .try_get(0)?;
    Ok((count > 0).then(|| format!("{count} connection(s) of a `{SERVING}`")))
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
        transaction(&mut self.0, IsolationLevel::ReadCommitted, Lock::None, f).map(|(v, _)| v)
    }

    /// One transaction under [`AUDIT_LOCK`]: every instance's audit writer appends to one
    /// chain, one at a time, each reading the chain's end inside its transaction.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        transaction(&mut self.0, IsolationLevel::ReadCommitted, Lock::Audit, f).map(|(v, _)| v)
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
