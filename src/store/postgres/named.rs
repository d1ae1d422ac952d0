//! Named locks shared by every instance on the database: session-level advisory locks,
//! keyed by a 64-bit hash of the name, all held on one connection of this instance's own.
//! A lock is held across work that is not a transaction (a token request, then the commit
//! of what it returned), and is released when its holder drops it — or by the server the
//! moment this instance's connection ends, however the process ends, so a killed instance
//! never leaves one behind.
//!
//! Locks are per instance, not per caller: a name held by this instance is held again at
//! once by the same connection, so callers within one instance queue among themselves
//! first (the token lifecycle's flights) and only the one at the front asks here.
//!
//! Waiting is a poll (`pg_try_advisory_lock` every [`POLL`]) rather than a blocking call,
//! so the one connection serves every lock of the instance: a wait never stands in front
//! of another lock's release.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::Client;

use super::connect;
use crate::clock::Deadline;
use crate::store::StoreError;
use crate::store::location::DatabaseUrl;

/// How often a waiter asks again.
const POLL: Duration = Duration::from_millis(20);

/// This instance's lock connection, opened on first use and again after it fails.
pub struct Locks {
    url: DatabaseUrl,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locks").finish_non_exhaustive()
    }
}

/// A held lock; dropping it releases it.
#[must_use]
pub struct Held<'a> {
    locks: &'a Locks,
    name: String,
}

impl std::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("name", &self.name).finish()
    }
}

impl Locks {
    pub fn new(url: &DatabaseUrl) -> Self {
        Locks {
            url: url.clone(),
            client: Mutex::new(None),
        }
    }

    fn client(&self) -> MutexGuard<'_, Option<Client>> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `sql` (one boolean out, the lock's name in) on the lock connection, opening it
    /// if needed; a failed connection is closed, which releases every lock it held.
    fn ask(&self, sql: &str, name: &str) -> Result<bool, StoreError> {
        let mut slot = self.client();
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(connect(&self.url)?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(StoreError::Database("no lock connection".into()));
        };
        match client
            .query_one(sql, &[&name])
            .and_then(|row| row.try_get(0))
        {
            Ok(answer) => Ok(answer),
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }

    /// Holds `name`, waiting at most `patience` while another instance (or another caller
    /// of this one) holds it.
    pub fn hold(&self, name: &str, patience: Duration) -> Result<Held<'_>, StoreError> {
        let deadline = Deadline::after(patience);
        loop {
            if self.ask("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", name)? {
                return Ok(Held {
                    locks: self,
                    name: name.to_string(),
                });
            }
            if deadline.passed() {
                return Err(StoreError::Busy(format!(
                    "{name} stayed locked by another keyport for {} s",
                    patience.as_secs()
                )));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let sql = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";
        match self.locks.ask(sql, &self.name) {
            Ok(true) => {}
            // Already released: the connection it was held on has ended.
            Ok(false) => {
                tracing::warn!(lock = %self.name, "a named lock was lost before its release")
            }
            Err(e) => {
                tracing::warn!(lock = %self.name, error = %e, "a named lock's connection failed; the server released it")
            }
        }
    }
}
