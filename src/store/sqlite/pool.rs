//! The SQLite connection pool: `r2d2` (a sync pool, since the store is called from
//! blocking threads) with a small connection manager for rusqlite 0.43. The crate
//! `r2d2_sqlite` would be that manager, but its newest release (0.35) requires rusqlite
//! 0.40, whose `libsqlite3-sys` cannot be linked next to ours (one `links = "sqlite3"` per
//! build). Every connection gets the same configuration (`configure`), opened once and kept
//! for the life of the process, so each keeps its prepared-statement cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use scheduled_thread_pool::ScheduledThreadPool;

use super::{StoreError, configure};

/// Opens and configures keyport's database connections.
#[derive(Debug)]
pub struct Manager {
    path: PathBuf,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = StoreError;

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), StoreError> {
        conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// A rusqlite connection to a local file has no transport that could break.
    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// How long a caller waits for a free connection before the request fails; connections
/// are held for one statement or one transaction, so a wait this long means a stall.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// `size` connections to `path`, all opened now and never recycled: no idle timeout, no
/// maximum lifetime, no per-checkout validation query. r2d2 needs a thread for opening
/// connections in the background; one is plenty here.
pub fn build(path: PathBuf, size: u32) -> Result<Pool, StoreError> {
    Ok(r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size))
        .idle_timeout(None)
        .max_lifetime(None)
        .test_on_check_out(false)
        .connection_timeout(CHECKOUT_TIMEOUT)
        .thread_pool(Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("keyport-db-pool")
                .build(),
        ))
        .build(Manager { path })?)
}
