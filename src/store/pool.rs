//! A fixed set of SQLite connections handed out one caller at a time. Blocking by design:
//! the store is only called from blocking threads (`web::block`), never on an async worker.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, PoisonError};

use rusqlite::Connection;

pub struct Pool {
    idle: Mutex<Vec<Connection>>,
    available: Condvar,
}

impl Pool {
    pub fn new(conns: Vec<Connection>) -> Self {
        Pool {
            idle: Mutex::new(conns),
            available: Condvar::new(),
        }
    }

    /// Waits until a connection is free.
    pub fn get(&self) -> Pooled<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = idle.pop() {
                return Pooled {
                    pool: self,
                    conn: Some(conn),
                };
            }
            idle = self
                .available
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // `conn` is only taken in `drop`.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable_conn(),
        }
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable_conn(),
        }
    }
}

#[expect(
    clippy::panic,
    reason = "the connection is present for the guard's whole life"
)]
fn unreachable_conn() -> ! {
    panic!("pooled connection used after release")
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self
                .pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            idle.push(conn);
            self.pool.available.notify_one();
        }
    }
}
