//! PostgreSQL for the test kit: when `KEYPORT_TEST_DATABASE_URL` names a server (a role
//! that may create databases, e.g. `postgres://postgres@127.0.0.1:54329/postgres`), every
//! keyport the launcher starts keeps its vault in a database of its own on that server
//! instead of `DATA/keyport.db`, so that the same tests run on both backends. A database
//! belongs to a data directory, as the SQLite file does: a restart, or a second start in
//! the same directory, finds the same vault. It is dropped once no server of that
//! directory is left.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The variable naming the PostgreSQL server the tests may use.
pub const TEST_DATABASE_ENV: &str = "KEYPORT_TEST_DATABASE_URL";

/// The server the tests run keyport on, if they run it on PostgreSQL.
pub fn server() -> Option<String> {
    std::env::var(TEST_DATABASE_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether keyport runs on PostgreSQL in this test run; if so, says that the test calling
/// it, one about the SQLite file itself (its bytes, modes, pages), has nothing to check.
pub fn sqlite_only(test: &str) -> bool {
    let skip = server().is_some();
    if skip {
        eprintln!("{test}: a test of the SQLite file; nothing to check on PostgreSQL");
    }
    skip
}

/// One database on the test server, dropped with this.
pub struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    /// A new, empty database on `server`.
    pub fn create(server: &str) -> Database {
        let name = format!("keyport_it_{}", uuid::Uuid::new_v4().simple());
        let sql = format!("CREATE DATABASE {name}");
        off_runtime(server, &sql).unwrap_or_else(|e| panic!("{TEST_DATABASE_ENV}: {sql}: {e}"));
        let mut url = url::Url::parse(server).expect("a postgres:// URL");
        url.set_path(&name);
        Database {
            server: server.to_string(),
            name,
            url: url.to_string(),
        }
    }

    /// The URL keyport is given (`KEYPORT_DATABASE_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = off_runtime(&self.server, &sql);
    }
}

/// Runs `sql` on `server` from a thread of its own: the synchronous client runs a runtime
/// of its own, which may not start inside an async test's.
fn off_runtime(server: &str, sql: &str) -> Result<(), String> {
    let (server, sql) = (server.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&server, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&sql).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the database thread panicked".to_string())?
}

/// Each data directory's database: held weakly (servers hold it), plus strongly from the
/// moment a `serve` command is made for it until a server takes it.
#[derive(Default)]
struct Registry {
    by_dir: HashMap<PathBuf, (Weak<Database>, Option<Arc<Database>>)>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The database of `dir`, created if it has none (only on PostgreSQL runs). Kept alive
/// until [`take`] hands it to the server started in `dir`.
pub fn for_dir(dir: &Path) -> Option<Arc<Database>> {
    let server = server()?;
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let registry = registry.get_or_insert_with(Registry::default);
    let entry = registry
        .by_dir
        .entry(dir.to_path_buf())
        .or_insert_with(|| (Weak::new(), None));
    let database = match entry.0.upgrade() {
        Some(database) => database,
        None => {
            let database = Arc::new(Database::create(&server));
            entry.0 = Arc::downgrade(&database);
            database
        }
    };
    entry.1 = Some(Arc::clone(&database));
    Some(database)
}

/// The database of `dir` if it has one now, without creating one.
pub fn existing(dir: &Path) -> Option<Arc<Database>> {
    let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry.as_ref()?.by_dir.get(dir)?.0.upgrade()
}

/// Takes the strong hold [`for_dir`] left, for the server now started in `dir`.
pub fn take(dir: &Path) -> Option<Arc<Database>> {
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let entry = registry.as_mut()?.by_dir.get_mut(dir)?;
    entry.1.take().or_else(|| entry.0.upgrade())
}

/// Statements run on a server's database behind its back, whichever the backend: the
/// SQLite file in its data dir, or its PostgreSQL database.
impl super::Server {
    /// Runs `sql` (statements separated by `;`).
    pub fn sql(&self, sql: &str) {
        match self.database() {
            Some(database) => off_runtime(database.url(), sql).expect("SQL on PostgreSQL"),
            None => rusqlite::Connection::open(self.dir.join("keyport.db"))
                .and_then(|db| db.execute_batch(sql))
                .expect("SQL on SQLite"),
        }
    }

    /// The first column of every row `sql` selects, as text.
    pub fn sql_strings(&self, sql: &str) -> Vec<String> {
        match self.database() {
            Some(database) => {
                let (url, sql) = (database.url().to_string(), sql.to_string());
                std::thread::spawn(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
                    client
                        .query(&sql, &[])?
                        .iter()
                        .map(|row| row.try_get::<_, String>(0))
                        .collect::<Result<Vec<_>, _>>()
                })
                .join()
                .expect("the database thread")
                .expect("SQL on PostgreSQL")
            }
            None => {
                let db = rusqlite::Connection::open(self.dir.join("keyport.db")).expect("SQLite");
                let mut stmt = db.prepare(sql).expect("SQL on SQLite");
                stmt.query_map([], |row| row.get::<_, String>(0))
                    .and_then(|rows| rows.collect())
                    .expect("SQL on SQLite")
            }
        }
    }

    /// The one integer `sql` selects.
    pub fn sql_i64(&self, sql: &str) -> i64 {
        match self.database() {
            Some(database) => {
                let (url, sql) = (database.url().to_string(), sql.to_string());
                std::thread::spawn(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
                    client.query_one(&sql, &[])?.try_get::<_, i64>(0)
                })
                .join()
                .expect("the database thread")
                .expect("SQL on PostgreSQL")
            }
            None => rusqlite::Connection::open(self.dir.join("keyport.db"))
                .and_then(|db| db.query_row(sql, [], |row| row.get(0)))
                .expect("SQL on SQLite"),
        }
    }
}
