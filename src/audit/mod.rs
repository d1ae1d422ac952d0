//! The audit log: an append-only, MAC-chained record of every credential use, lifecycle
//! change and key event (see `record::Event`). The service hands entries to [`AuditLog`],
//! which queues them for one writer thread (`writer`); a request never waits on the disk
//! for its record. `verify` walks the chain.
//!
//! What a chain protects against: someone who can write the database file but lacks the
//! passphrase cannot edit, remove, insert or reorder records, or cut either end, without
//! `verify` naming the first place that breaks (the MAC key is derived from the data key).
//! Deleting the whole log, records and end row together, leaves an empty log that starts
//! again at #1: a vault with history and a log at #1 is visible in `verify`'s figures.
//! Records still queued when the process is killed are lost; what was written verifies.

pub mod record;
pub mod verify;
mod writer;

use std::sync::mpsc::{self, SyncSender};
use std::time::Duration;

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};
use record::Entry;
use writer::{Msg, Writer};

/// How many records may wait for the writer before a request waits for room.
const QUEUE: usize = 4096;

/// How long records are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    /// At most this many records are kept (the oldest go first).
    pub max_records: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            days: 90,
            max_records: 10_000_000,
        }
    }
}

impl Retention {
    fn keep_ms(&self) -> i64 {
        i64::from(self.days) * 86_400_000
    }

    /// Pruning runs at start and then this often.
    fn every_ms(&self) -> i64 {
        3_600_000
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("the audit writer thread did not start: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the audit log is turned off")]
    Off,
}

/// The handle the service records through. `off()` records nothing.
pub struct AuditLog {
    queue: Option<SyncSender<Msg>>,
    key: Option<ring::hmac::Key>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("on", &self.queue.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer thread on a connection of its own.
    pub fn start(
        store: &Store,
        vault: &Vault,
        clock: Clock,
        retention: Retention,
    ) -> Result<Self, AuditError> {
        let key = vault.mac_key(KEY_PURPOSE)?;
        let writer = Writer {
            db: store.appender()?,
            key: key.clone(),
            clock,
            retention,
        };
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(AuditError::Thread)?;
        Ok(AuditLog {
            queue: Some(queue),
            key: Some(key),
        })
    }

    /// A log that records nothing (`--audit off`).
    pub fn off() -> Self {
        AuditLog {
            queue: None,
            key: None,
        }
    }

    pub fn is_on(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues one record; waits only when the writer is a whole queue behind.
    pub fn record(&self, entry: Entry) {
        if let Some(queue) = &self.queue
            && queue.send(Msg::Entry(entry)).is_err()
        {
            tracing::error!("audit writer stopped; a record was lost");
        }
    }

    /// Returns once every record queued before this call is on disk (or the wait passed).
    pub fn sync(&self, wait: Duration) {
        if let Some(queue) = &self.queue {
            let (done, rx) = mpsc::channel();
            if queue.send(Msg::Barrier(done)).is_ok() {
                let _ = rx.recv_timeout(wait);
            }
        }
    }

    /// The MAC key, for `verify`.
    pub fn key(&self) -> Result<&ring::hmac::Key, AuditError> {
        self.key.as_ref().ok_or(AuditError::Off)
    }
}

/// The HKDF purpose of the chain's MAC key.
pub(crate) const KEY_PURPOSE: &str = "audit log chain";

#[cfg(test)]
mod tests;
