//! The row cache: connection and integration rows as stored — secrets still sealed, opening
//! stays with the caller at each use — kept in memory so that the hot read path (one
//! connection and its integration per request) can be served on an async worker without a
//! SQLite read and without a hop to the blocking pool.
//!
//! Invalidation is a write-generation check, with no per-row bookkeeping to get wrong.
//! Two counters: `started` goes up before a write transaction begins, `finished` after it
//! ends (committed or rolled back, in a drop guard). A row is read into the cache only when
//! no write is in flight (`started == finished`, read in that order) and is stamped with
//! `started` as read *before* its SQLite snapshot began; an entry is served only while its
//! stamp still equals `started`. So:
//! - every write that committed before the stamp was read is in the entry's snapshot (it
//!   had finished, and `finished` moves only after the commit);
//! - any later write raised `started` before its `BEGIN`, which makes the entry stale —
//!   from before the write can commit until forever;
//! - therefore every entry served reflects the database as it stands, all served entries
//!   reflect the same state (a connection and its integration are never torn), and a write
//!   is visible to the very next read once `Store::write` returns.
//!
//! While a write is in flight nothing is served or filled: reads go to SQLite. Writes are
//! rare next to reads (token refreshes, flows, configuration), so this costs little. Those
//! guarantees hold for the writes of this process. On SQLite it is the database's only
//! writer (every other CLI command goes through its API). On PostgreSQL other instances
//! may write too: their commits reach this cache as notifications, each counted as a
//! change (`changed`), so an entry is served at most until the notification of a later
//! remote write arrives; while the notification link is down, the cache is paused
//! (`pause`) and every read goes to the database (`postgres::listen`).
//!
//! Storage is `quick_cache`'s sharded concurrent cache: bounded by a weight budget (the
//! approximate bytes of each row, so 100,000 connections cannot grow memory past it),
//! scan-resistant eviction (S3-FIFO: a sweep over many connections does not flush the hot
//! set), no background threads, and a hit is one shard read-lock held only for an `Arc`
//! clone — never across I/O, so an async worker may call it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::domain::{Connection, Integration};
use crate::ids::{ConnectionId, IntegrationId};

/// A row as stored, its secrets still sealed.
pub struct SealedRow<T> {
    pub row: T,
    pub secrets: Option<Vec<u8>>,
}

/// A connection row as stored, its secrets still sealed.
pub type SealedConnection = SealedRow<Connection>;

/// An integration row as stored, its secrets still sealed.
pub type SealedIntegration = SealedRow<Integration>;

/// A connection and its integration as they stood at one moment.
#[derive(Clone, Debug)]
pub struct Sealed {
    pub connection: Arc<SealedConnection>,
    pub integration: Arc<SealedIntegration>,
}

fn blob_len(blob: Option<&Vec<u8>>) -> String {
    blob.map_or_else(|| "none".into(), |b| format!("{} sealed bytes", b.len()))
}

impl<T: std::fmt::Debug> std::fmt::Debug for SealedRow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("row", &self.row)
            .field("secrets", &blob_len(self.secrets.as_ref()))
            .finish()
    }
}

/// The weight of a cached row: approximately the heap bytes it holds. Its text columns
/// count twice (parsed JSON maps and strings carry allocation overhead), its sealed blob
/// once, plus a fixed cost for the structs and the cache slot.
pub fn weight(text_bytes: usize, blob: Option<&[u8]>) -> u64 {
    let bytes = 256 + 2 * text_bytes + blob.map_or(0, <[u8]>::len);
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// Memory budgets, in `weight` units (about bytes; measured: 20,000 typical connection rows
/// weigh 8.4 MB and grew RSS by 9.3 MB). 4 MiB holds about 10,000 connections — far more
/// than the hot set of a vault's agents — and keeps a full cache a small part of the
/// 40 MB RSS budget.
pub const CONNECTION_BUDGET: u64 = 4 << 20;
pub const INTEGRATION_BUDGET: u64 = 1 << 20;

struct Stamped<T> {
    stamp: u64,
    weight: u64,
    row: Arc<T>,
}

// By hand: a derive would ask for `T: Clone`, and only the `Arc` is cloned.
impl<T> Clone for Stamped<T> {
    fn clone(&self) -> Self {
        Stamped {
            stamp: self.stamp,
            weight: self.weight,
            row: Arc::clone(&self.row),
        }
    }
}

#[derive(Clone)]
struct ByWeight;

impl<K, T> Weighter<K, Stamped<T>> for ByWeight {
    fn weight(&self, _: &K, entry: &Stamped<T>) -> u64 {
        entry.weight
    }
}

/// Ends a write: counts it finished when dropped, whatever happened to the transaction.
#[must_use]
pub struct Writing<'a>(&'a AtomicU64);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A pause of the cache ([`RowCache::pause`]), ended when dropped.
#[must_use]
pub struct Paused(Arc<RowCache>);

impl Drop for Paused {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, SeqCst);
    }
}

impl std::fmt::Debug for Paused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Paused")
    }
}

#[derive(Debug)]
pub struct RowCache {
    started: AtomicU64,
    finished: AtomicU64,
    connections: Cache<ConnectionId, Stamped<SealedConnection>, ByWeight>,
    integrations: Cache<IntegrationId, Stamped<SealedIntegration>, ByWeight>,
}

impl RowCache {
    pub fn new(connection_budget: u64, integration_budget: u64) -> Self {
        // quick_cache sizes its tables from an item estimate; rows weigh about 1 KiB.
        let items = |budget: u64| usize::try_from(budget / 1024).unwrap_or(1).max(1);
        RowCache {
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            connections: Cache::with_weighter(
                items(connection_budget),
                connection_budget,
                ByWeight,
            ),
            integrations: Cache::with_weighter(
                items(integration_budget),
                integration_budget,
                ByWeight,
            ),
        }
    }

    /// Called before a write transaction begins; keep the guard until it has ended.
    pub fn writing(&self) -> Writing<'_> {
        self.started.fetch_add(1, SeqCst);
        Writing(&self.finished)
    }

    /// Records a change made outside `writing()`: every entry read before it is stale.
    pub fn changed(&self) {
        drop(self.writing());
    }

    /// Stops serving and filling until the guard is dropped, as a write in flight does: for
    /// as long as changes made elsewhere (another instance on the same database) could go
    /// unnoticed.
    pub fn pause(self: &Arc<Self>) -> Paused {
        self.started.fetch_add(1, SeqCst);
        Paused(Arc::clone(self))
    }

    /// The stamp for rows about to be read from SQLite, or `None` while a write is in
    /// flight (such rows are returned to the reader but not cached).
    pub fn fill_stamp(&self) -> Option<u64> {
        let finished = self.finished.load(SeqCst);
        let started = self.started.load(SeqCst);
        (started == finished).then_some(started)
    }

    fn current(&self) -> u64 {
        self.started.load(SeqCst)
    }

    /// A connection and its integration, both current; never touches SQLite.
    pub fn sealed(&self, id: ConnectionId) -> Option<Sealed> {
        let now = self.current();
        let connection = self.connections.get(&id).filter(|e| e.stamp == now)?;
        let integration = self
            .integrations
            .get(&connection.row.row.integration_id)
            .filter(|e| e.stamp == now)?;
        Some(Sealed {
            connection: connection.row,
            integration: integration.row,
        })
    }

    /// An integration, current; never touches SQLite.
    pub fn integration(&self, id: IntegrationId) -> Option<Arc<SealedIntegration>> {
        let now = self.current();
        self.integrations
            .get(&id)
            .filter(|e| e.stamp == now)
            .map(|e| e.row)
    }

    /// Caches `row`, read from a snapshot that began after `stamp` was taken, unless a
    /// write has begun since (it would be stale already).
    pub fn put_connection(&self, stamp: u64, row: &Arc<SealedConnection>, weight: u64) {
        self.put(&self.connections, row.row.id, stamp, row, weight);
    }

    /// As `put_connection`, for an integration.
    pub fn put_integration(&self, stamp: u64, row: &Arc<SealedIntegration>, weight: u64) {
        self.put(&self.integrations, row.row.id, stamp, row, weight);
    }

    fn put<K: Eq + std::hash::Hash, T>(
        &self,
        cache: &Cache<K, Stamped<T>, ByWeight>,
        key: K,
        stamp: u64,
        row: &Arc<T>,
        weight: u64,
    ) {
        if stamp == self.current() {
            let row = Arc::clone(row);
            cache.insert(key, Stamped { stamp, weight, row });
        }
    }

    /// Weight held by cached connections and integrations (stale entries included until
    /// they are replaced or evicted).
    pub fn weights(&self) -> (u64, u64) {
        (self.connections.weight(), self.integrations.weight())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::domain::{AuthScheme, ConnectionStatus};
    use crate::ids::EntityId;

    /// A new integration and a connection to it whose sealed blob is `secrets`.
    fn pair(secrets: &[u8]) -> (Arc<SealedIntegration>, Arc<SealedConnection>) {
        let i = integration();
        let c = connection(i.row.id, secrets);
        (i, c)
    }

    fn integration() -> Arc<SealedIntegration> {
        Arc::new(SealedIntegration {
            row: Integration {
                id: IntegrationId::new(),
                app_key: "github".into(),
                name: "github".into(),
                auth_scheme: AuthScheme::BearerToken,
                config: Map::new(),
                secret_keys: Vec::new(),
                scopes: Vec::new(),
                base_url: "https://api.github.com".into(),
                enabled: true,
                deleted: false,
                created_at: "t0".into(),
                updated_at: "t0".into(),
            },
            secrets: None,
        })
    }

    fn connection(integration_id: IntegrationId, secrets: &[u8]) -> Arc<SealedConnection> {
        Arc::new(SealedConnection {
            row: Connection {
                id: ConnectionId::new(),
                integration_id,
                entity_id: EntityId::default_entity(),
                app_key: "github".into(),
                status: ConnectionStatus::Active,
                status_reason: None,
                labels: Vec::new(),
                params: Map::new(),
                secret_keys: vec!["token".into()],
                created_at: "t0".into(),
                updated_at: "t0".into(),
            },
            secrets: Some(secrets.to_vec()),
        })
    }

    /// A cache holding one connection and its integration, filled while idle.
    fn filled() -> (RowCache, ConnectionId) {
        let cache = RowCache::new(CONNECTION_BUDGET, INTEGRATION_BUDGET);
        let (i, c) = pair(b"sealed-1");
        let stamp = cache.fill_stamp();
        assert_eq!(stamp, Some(0));
        cache.put_integration(0, &i, 1000);
        cache.put_connection(0, &c, 1000);
        (cache, c.row.id)
    }

    fn served(cache: &RowCache, id: ConnectionId) -> Option<Vec<u8>> {
        cache
            .sealed(id)
            .map(|s| s.connection.secrets.clone().unwrap_or_default())
    }

    #[test]
    fn a_filled_row_is_served_until_a_write_begins_and_never_after() {
        let (cache, id) = filled();
        assert_eq!(served(&cache, id).as_deref(), Some(&b"sealed-1"[..]));
        let writing = cache.writing();
        // Not yet committed, perhaps: no longer served, and not refilled meanwhile.
        assert_eq!(served(&cache, id), None);
        assert_eq!(
            cache.fill_stamp(),
            None,
            "no fill while a write is in flight"
        );
        drop(writing);
        assert_eq!(served(&cache, id), None, "stale after the write ended");
        assert_eq!(cache.fill_stamp(), Some(1));
    }

    #[test]
    fn a_fill_read_before_a_write_is_never_served() {
        // Reader takes its stamp and reads SQLite (old rows); a write begins, commits and
        // ends; only then does the reader put what it read.
        let cache = RowCache::new(CONNECTION_BUDGET, INTEGRATION_BUDGET);
        let (i, old) = pair(b"before the write");
        let stamp = cache.fill_stamp().unwrap_or(u64::MAX);
        drop(cache.writing());
        cache.put_integration(stamp, &i, 1000);
        cache.put_connection(stamp, &old, 1000);
        assert_eq!(served(&cache, old.row.id), None);
        assert!(cache.integration(i.row.id).is_none());
        // Put before the write began: cached, then made stale by it.
        let stamp = cache.fill_stamp().unwrap_or(u64::MAX);
        cache.put_integration(stamp, &i, 1000);
        cache.put_connection(stamp, &old, 1000);
        assert!(served(&cache, old.row.id).is_some());
        drop(cache.writing());
        assert_eq!(served(&cache, old.row.id), None);
    }

    #[test]
    fn writes_that_overlap_hold_fills_off_until_the_last_one_ends() {
        let (cache, id) = filled();
        let first = cache.writing();
        let second = cache.writing();
        drop(first);
        assert_eq!(cache.fill_stamp(), None, "one write still in flight");
        assert_eq!(served(&cache, id), None);
        drop(second);
        assert_eq!(cache.fill_stamp(), Some(2));
    }

    #[test]
    fn a_change_outside_a_write_invalidates_too() {
        let (cache, id) = filled();
        cache.changed();
        assert_eq!(served(&cache, id), None);
        assert_eq!(cache.fill_stamp(), Some(1));
    }

    #[test]
    fn a_connection_is_served_only_with_its_integration_current() {
        let cache = RowCache::new(CONNECTION_BUDGET, INTEGRATION_BUDGET);
        let (i, c) = pair(b"sealed");
        cache.put_connection(0, &c, 1000);
        assert!(cache.sealed(c.row.id).is_none(), "integration not cached");
        cache.put_integration(0, &i, 1000);
        let both = cache.sealed(c.row.id).map(|s| s.integration.row.id);
        assert_eq!(both, Some(i.row.id));
        assert!(cache.integration(i.row.id).is_some());
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let budget = 64 * 1024;
        let cache = RowCache::new(budget, budget);
        let i = integration();
        for _ in 0..10_000 {
            let c = connection(i.row.id, &[7; 200]);
            cache.put_connection(0, &c, weight(300, c.secrets.as_deref()));
        }
        let (connections, _) = cache.weights();
        assert!(connections <= budget, "{connections} > {budget}");
        assert!(connections > budget / 2, "{connections}: the cache is used");
    }

    #[test]
    fn debug_shows_the_sealed_blob_by_length_only() {
        let (_, c) = pair(b"ciphertext-bytes");
        let shown = format!("{c:?}");
        assert!(shown.contains("16 sealed bytes"), "{shown}");
        assert!(!shown.contains("99, 105"), "{shown}");
    }
}
