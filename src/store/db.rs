//! The one seam between the store's tables and a database engine. Every table module runs
//! its SQL through a [`Db`] (a connection or transaction of whichever backend the store
//! opened), binds [`Param`]s and reads owned [`Row`]s, so no engine's types leave
//! `src/store`. SQL is written once with numbered placeholders (`?1`, `?2`, …), which each
//! backend spells its own way; where the dialects differ (JSON functions, upserts), the
//! table module asks [`Db::dialect`] and writes both.
//!
//! A `Db` also remembers whether anything was written through it, so that a change made
//! through `Store::read` invalidates the row cache all the same, whatever the engine.

use std::cell::{Cell, RefCell};

use super::{StoreError, corrupt, postgres, sqlite};

/// Which SQL dialect a [`Db`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Blob(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The placeholders' values, in order: `args![id.as_str(), now]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::db::Param::from($value)),*]
    };
}
pub(crate) use args;

/// A value read from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

/// A Rust type a column is read as.
pub trait FromValue: Sized {
    fn from_value(value: Value) -> Option<Self>;
    const WHAT: &'static str;
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(v),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }
    const WHAT: &'static str = "an integer";
}

impl FromValue for bool {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            Value::Int(v) => Some(v != 0),
            _ => None,
        }
    }
    const WHAT: &'static str = "a boolean";
}

impl FromValue for String {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    const WHAT: &'static str = "text";
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
    const WHAT: &'static str = "bytes";
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            value => T::from_value(value).map(Some),
        }
    }
    const WHAT: &'static str = T::WHAT;
}

/// One row of a result, its columns in `SELECT` order.
#[derive(Clone, Debug, Default)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    /// Column `i` as `T`; a missing column or one of another type means a corrupt row.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let value = self.0.get(i).cloned().unwrap_or(Value::Null);
        T::from_value(value).ok_or_else(|| corrupt(format!("column {i} is not {}", T::WHAT)))
    }

    /// Bytes held by the text columns among the first `width`.
    pub fn text_len(&self, width: usize) -> usize {
        self.0
            .iter()
            .take(width)
            .map(|v| match v {
                Value::Text(t) => t.len(),
                _ => 0,
            })
            .sum()
    }
}

/// The connection (or transaction) a closure given to `Store::read`, `snapshot` or
/// `write` runs its statements on.
pub struct Db<'a> {
    conn: Conn<'a>,
    wrote: Cell<bool>,
}

pub(super) enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    /// PostgreSQL runs every closure in a transaction, whose methods take `&mut self`.
    Postgres(RefCell<::postgres::Transaction<'a>>),
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

impl<'a> Db<'a> {
    pub(super) fn new(conn: Conn<'a>) -> Self {
        Db {
            conn,
            wrote: Cell::new(false),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The PostgreSQL transaction this handle ran in, to commit.
    pub(super) fn into_postgres(self) -> Result<::postgres::Transaction<'a>, StoreError> {
        match self.conn {
            Conn::Postgres(tx) => Ok(tx.into_inner()),
            Conn::Sqlite(_) => Err(StoreError::Database("not a PostgreSQL transaction".into())),
        }
    }

    /// Whether a statement that may change rows ran through this handle.
    pub(super) fn wrote(&self) -> bool {
        self.wrote.get()
    }

    /// Runs a statement that changes rows; returns how many it changed.
    pub fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<usize, StoreError> {
        self.wrote.set(true);
        match &self.conn {
            Conn::Sqlite(c) => sqlite::execute(c, sql, params),
            Conn::Postgres(tx) => postgres::execute(&mut tx.borrow_mut(), sql, params),
        }
    }

    /// Runs a query; every row it returns.
    pub fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => sqlite::query(c, sql, params),
            Conn::Postgres(tx) => postgres::query(&mut tx.borrow_mut(), sql, params),
        }
    }

    /// Runs a statement that changes rows and returns some (`… RETURNING`).
    pub fn returning(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        self.wrote.set(true);
        self.query(sql, params)
    }

    /// The first row a query returns, if any.
    pub fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Calls `each` on every row of a query in turn, without holding them all at once.
    pub fn for_each<E: From<StoreError>>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.conn {
            Conn::Sqlite(c) => sqlite::for_each(c, sql, params, each),
            Conn::Postgres(tx) => postgres::for_each(&mut tx.borrow_mut(), sql, params, each),
        }
    }

    /// Tells the other instances on the database, once this transaction commits, that API
    /// keys changed, so they reload theirs. SQLite has no other instance to tell.
    pub fn announce_keys(&self) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(tx) => postgres::announce(&mut tx.borrow_mut(), postgres::listen::KEYS),
        }
    }

    /// Runs several statements separated by `;`, with no parameters (tests tampering with
    /// stored rows, migrations).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.wrote.set(true);
        match &self.conn {
            Conn::Sqlite(c) => sqlite::batch(c, sql),
            Conn::Postgres(tx) => postgres::batch(&mut tx.borrow_mut(), sql),
        }
    }
}

/// Brings a schema at version `current` to the last of `steps` (step `i`, 1-based, moves it
/// from `i - 1` to `i`), recording each version reached with `record`, inside the
/// transaction `db`; a schema newer than this build knows is refused. Returns the version
/// reached.
pub fn apply_steps(
    db: &Db<'_>,
    current: u32,
    steps: &[&str],
    record: impl Fn(&Db<'_>, u32) -> Result<(), StoreError>,
) -> Result<u32, StoreError> {
    let latest = steps.len() as u32;
    if current > latest {
        return Err(StoreError::TooNew {
            found: current,
            supported: latest,
        });
    }
    for (index, sql) in steps.iter().enumerate().skip(current as usize) {
        db.batch(sql)?;
        record(db, index as u32 + 1)?;
    }
    Ok(latest)
}
