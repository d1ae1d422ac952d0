//! What other keyport instances on the same database changed, as it happens: every write
//! transaction that changed rows sends a notification on [`CHANNEL`] when it commits
//! (`NOTIFY` is transactional: a rolled-back write sends nothing), and one thread per
//! serving instance listens on a connection of its own:
//!
//! - any notification makes every cached row stale ([`RowCache::changed`]), so a row is
//!   served from memory at most until the notification of a later write arrives
//!   (milliseconds on a working link);
//! - a notification with the payload [`KEYS`] (an API key was created or revoked) also
//!   reloads the in-memory key ring, through the hook the service gave;
//! - while that connection is down or not yet listening, the cache is paused and every read
//!   goes to the database, so a lost link costs speed, never staleness. A link that stays
//!   silent is checked every [`HEARTBEAT`]; a dead one is reconnected every [`RETRY`], and
//!   the key ring is reloaded once listening again (what changed meanwhile sent nothing
//!   this instance heard).
//!
//! An instance hears its own notifications too: a wasted invalidation after its own write,
//! which keeps the rule simple.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel};

use super::{Lock, connect, transaction};
use crate::store::StoreError;
use crate::store::cache::{Paused, RowCache};
use crate::store::db::Db;
use crate::store::location::DatabaseUrl;

/// The notification channel keyport's writes announce themselves on.
pub const CHANNEL: &str = "keyport_changes";
/// The payload of a write that changed rows.
pub const ROWS: &str = "rows";
/// The payload of a write that changed API keys.
pub const KEYS: &str = "keys";

/// How long a silent link waits before it is checked with a round trip.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long a lost link waits before it is opened again.
const RETRY: Duration = Duration::from_secs(1);

/// Reloads what an instance keeps from the tables (the API key ring), on the listening
/// connection.
pub type KeysHook = Box<dyn Fn(&Db<'_>) -> Result<(), StoreError> + Send + Sync>;

/// The listening thread; it stops (within [`HEARTBEAT`]) once this is dropped.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Listening {
    url: DatabaseUrl,
    cache: Arc<RowCache>,
    keys: KeysHook,
    stop: Arc<AtomicBool>,
}

/// Starts listening for `url`'s changes; the cache is paused until the link is up.
pub fn start(
    url: &DatabaseUrl,
    cache: &Arc<RowCache>,
    keys: KeysHook,
) -> Result<Listener, StoreError> {
    let paused = cache.pause();
    let stop = Arc::new(AtomicBool::new(false));
    let listening = Listening {
        url: url.clone(),
        cache: Arc::clone(cache),
        keys,
        stop: Arc::clone(&stop),
    };
    std::thread::Builder::new()
        .name("keyport-listen".into())
        .spawn(move || listening.run(paused))
        .map_err(|e| StoreError::Database(format!("could not start the change listener: {e}")))?;
    Ok(Listener { stop })
}

impl Listening {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run(self, paused: Paused) {
        let mut paused = Some(paused);
        let mut lost = false;
        while !self.stopped() {
            let failure = match self.open() {
                Ok(mut client) => {
                    if lost {
                        tracing::info!("change notifications from the database resumed");
                    }
                    // Listening now, and the key ring read since: what other instances
                    // commit from here on is heard, so the cache may serve again.
                    drop(paused.take());
                    let failure = self.follow(&mut client);
                    paused = Some(self.cache.pause());
                    failure
                }
                Err(e) => Some(e),
            };
            if let Some(e) = failure
                && !self.stopped()
            {
                if !lost {
                    tracing::warn!(error = %e, "change notifications from the database lost; every read goes to the database until they resume");
                }
                lost = true;
                std::thread::sleep(RETRY);
            }
        }
    }

    /// A connection listening on [`CHANNEL`], with the key ring reloaded after `LISTEN`.
    fn open(&self) -> Result<Client, StoreError> {
        let mut client = connect(&self.url)?;
        client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        self.reload_keys(&mut client)?;
        Ok(client)
    }

    fn reload_keys(&self, client: &mut Client) -> Result<(), StoreError> {
        transaction(client, IsolationLevel::ReadCommitted, Lock::None, |db| {
            (self.keys)(db)
        })
        .map(|_| ())
    }

    /// Applies notifications as they come until the link fails (the error) or the listener
    /// is stopped (`None`).
    fn follow(&self, client: &mut Client) -> Option<StoreError> {
        while !self.stopped() {
            if let Err(e) = self.next_batch(client) {
                return Some(e);
            }
        }
        None
    }

    /// Waits up to [`HEARTBEAT`] for notifications and applies those that came; checks the
    /// link when none did.
    fn next_batch(&self, client: &mut Client) -> Result<(), StoreError> {
        let (mut heard, mut keys) = (false, false);
        {
            // Waits for the first, then takes what else has arrived without waiting (the
            // timed iterator would wait a whole heartbeat again after each).
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(HEARTBEAT).next()?;
            if let Some(first) = first {
                heard = true;
                keys = first.payload() == KEYS;
                let mut more = notifications.iter();
                while let Some(note) = more.next()? {
                    keys |= note.payload() == KEYS;
                }
            }
        }
        if heard {
            self.cache.changed();
        } else {
            client.simple_query("")?;
        }
        if keys {
            self.reload_keys(client)?;
        }
        Ok(())
    }
}
