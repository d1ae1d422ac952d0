//! Scratch stores for the store's own tests: always a SQLite one, and a PostgreSQL one too
//! when `KEYPORT_TEST_DATABASE_URL` names a server (`postgres://user@127.0.0.1:port/db`, a
//! role that may create databases). Each PostgreSQL store gets a database of its own,
//! dropped when the scratch is.
#![expect(clippy::unwrap_used, reason = "tests")]

use super::{DatabaseUrl, Location, Store};

/// The variable naming the PostgreSQL server tests may use.
pub const TEST_DATABASE_ENV: &str = "KEYPORT_TEST_DATABASE_URL";

/// What a scratch store leaves behind: its directory, or its database (dropped with this;
/// drop the store first).
pub(crate) struct Scratch {
    /// Which backend, for assertion messages.
    pub name: &'static str,
    _dir: tempfile::TempDir,
    database: Option<(String, String)>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.database
            && let Ok(mut client) = postgres::Client::connect(server, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A new, empty database on the test server; returns its URL.
pub(crate) fn database(server: &str) -> (String, String) {
    let name = format!("keyport_test_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(server, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    (url.to_string(), name)
}

/// One scratch store per backend under test, each with a fake vault row.
pub(crate) fn scratches() -> Vec<(Store, Scratch)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(
        Store::scratch(dir.path()),
        Scratch {
            name: "sqlite",
            _dir: dir,
            database: None,
        },
    )];
    if let Ok(server) = std::env::var(TEST_DATABASE_ENV) {
        let (url, name) = database(&server);
        let location = Location::Postgres(DatabaseUrl::parse(&url).unwrap());
        let store = Store::create(location, &Store::scratch_record(), "t0").unwrap();
        out.push((
            store,
            Scratch {
                name: "postgres",
                _dir: tempfile::tempdir().unwrap(),
                database: Some((server, name)),
            },
        ));
    }
    out
}

/// An empty database on the test server, if there is one: its location, and what drops it.
pub(crate) fn empty_postgres() -> Option<(Location, Scratch)> {
    let server = std::env::var(TEST_DATABASE_ENV).ok()?;
    let (url, name) = database(&server);
    Some((
        Location::Postgres(DatabaseUrl::parse(&url).unwrap()),
        Scratch {
            name: "postgres",
            _dir: tempfile::tempdir().unwrap(),
            database: Some((server, name)),
        },
    ))
}

/// Runs `sql` on `store`'s database on a connection of its own, as another process would:
/// `store` (its row cache) does not see it.
pub(crate) fn behind_the_back(store: &Store, sql: &str) {
    match store.location() {
        Location::File(path) => {
            rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap();
        }
        Location::Postgres(url) => {
            postgres::Client::connect(url.expose_secret(), postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap();
        }
    }
}

/// Connects to `store`'s PostgreSQL database as a second keyport would; `None` on SQLite.
pub(crate) fn second_instance(store: &Store) -> Option<Result<Store, super::StoreError>> {
    match store.location() {
        Location::File(_) => None,
        Location::Postgres(url) => Some(Store::open(Location::Postgres(url))),
    }
}
