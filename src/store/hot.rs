//! The hot read path: a connection with its integration, or an integration alone, as
//! stored (secrets sealed). `cached_*` answer from the row cache only — no SQLite, no
//! blocking — so an async handler can serve a hit inline; the plain functions fall back to
//! one SQLite snapshot on a miss (blocking: run them in `web::block`) and fill the cache.

use std::sync::Arc;

use super::cache::{Sealed, SealedIntegration};
use super::{Store, StoreError, connections, integrations};
use crate::ids::{ConnectionId, IntegrationId};

impl Store {
    /// The connection `id` and its integration if both are cached and current.
    pub fn cached_sealed(&self, id: ConnectionId) -> Option<Sealed> {
        self.cache.sealed(id)
    }

    /// The integration `id` if it is cached and current.
    pub fn cached_integration(&self, id: IntegrationId) -> Option<Arc<SealedIntegration>> {
        self.cache.integration(id)
    }

    /// The connection `id` and its integration, read in one snapshot on a cache miss;
    /// `None` when either row does not exist. Blocking on a miss.
    pub fn sealed(&self, id: ConnectionId) -> Result<Option<Sealed>, StoreError> {
        if let Some(hit) = self.cache.sealed(id) {
            return Ok(Some(hit));
        }
        self.sealed_stored(id)
    }

    /// The connection `id` and its integration as the database holds them now, never from
    /// the cache (another instance may have changed them a moment ago, and its notice may
    /// still be on its way); fills the cache. Blocking.
    pub fn sealed_stored(&self, id: ConnectionId) -> Result<Option<Sealed>, StoreError> {
        // Taken before the snapshot begins: see `cache` for why the order matters.
        let stamp = self.cache.fill_stamp();
        let found = self.snapshot(|db| {
            let Some((connection, connection_weight)) = connections::get_sealed(db, id)? else {
                return Ok::<_, StoreError>(None);
            };
            let integration = integrations::get_sealed(db, connection.row.integration_id)?;
            Ok(integration.map(|i| ((connection, connection_weight), i)))
        })?;
        let Some(((connection, connection_weight), (integration, integration_weight))) = found
        else {
            return Ok(None);
        };
        let sealed = Sealed {
            connection: Arc::new(connection),
            integration: Arc::new(integration),
        };
        if let Some(stamp) = stamp {
            self.cache
                .put_integration(stamp, &sealed.integration, integration_weight);
            self.cache
                .put_connection(stamp, &sealed.connection, connection_weight);
        }
        Ok(Some(sealed))
    }

    /// The integration `id`, read from SQLite on a cache miss; `None` when it does not
    /// exist. Blocking on a miss.
    pub fn integration(
        &self,
        id: IntegrationId,
    ) -> Result<Option<Arc<SealedIntegration>>, StoreError> {
        if let Some(hit) = self.cache.integration(id) {
            return Ok(Some(hit));
        }
        let stamp = self.cache.fill_stamp();
        let Some((integration, weight)) = self.read(|db| integrations::get_sealed(db, id))? else {
            return Ok(None);
        };
        let integration = Arc::new(integration);
        if let Some(stamp) = stamp {
            self.cache.put_integration(stamp, &integration, weight);
        }
        Ok(Some(integration))
    }

    /// Approximate bytes held by cached connections and integrations.
    pub fn cache_weight(&self) -> (u64, u64) {
        self.cache.weights()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::clock::Deadline;
    use crate::domain::{AuthScheme, ConnectionStatus};
    use crate::ids::EntityId;
    use crate::store::{IntegrationPatch, NewConnection, NewIntegration, SecretUpdate, flows};

    struct Fixture {
        store: Store,
        connection: ConnectionId,
        integration: IntegrationId,
        _scratch: crate::store::testing::Scratch,
    }

    /// A store holding one integration and one ACTIVE connection, with fake sealed blobs
    /// (the store never opens them).
    fn fixtures() -> Vec<Fixture> {
        crate::store::testing::scratches()
            .into_iter()
            .map(|(store, scratch)| fixture(store, scratch))
            .collect()
    }

    fn fixture(store: Store, scratch: crate::store::testing::Scratch) -> Fixture {
        let (integration, connection) = (IntegrationId::new(), ConnectionId::new());
        store
            .write(|tx| {
                integrations::insert(
                    tx,
                    &NewIntegration {
                        id: integration,
                        app_key: "github",
                        auth_scheme: AuthScheme::OAuth2,
                        fields: IntegrationPatch {
                            name: "github",
                            config: &Map::new(),
                            secret_keys: &["client_secret".into()],
                            secrets: Some(b"client-secret-v1"),
                            scopes: &[],
                            base_url: "https://api.github.com",
                            enabled: true,
                            now: "t0",
                        },
                    },
                )?;
                connections::insert(
                    tx,
                    &NewConnection {
                        id: connection,
                        integration_id: integration,
                        entity_id: &EntityId::default_entity(),
                        app_key: "github",
                        status: ConnectionStatus::Active,
                        status_reason: None,
                        labels: &[],
                        params: &Map::new(),
                        secret_keys: &["access_token".into()],
                        secrets: Some(b"tokens-v1"),
                        now: "t0",
                    },
                )
            })
            .unwrap();
        Fixture {
            store,
            connection,
            integration,
            _scratch: scratch,
        }
    }

    impl Fixture {
        /// Reads twice: the first fills the cache, the second must be a hit.
        fn warm(&self) -> Sealed {
            self.store.sealed(self.connection).unwrap().unwrap();
            self.store.cached_sealed(self.connection).unwrap()
        }

        fn update_secrets(&self, status: ConnectionStatus, blob: &[u8], params: &Value) {
            let params = params.as_object().unwrap();
            let update = SecretUpdate {
                status,
                status_reason: None,
                params,
                secret_keys: &["access_token".into()],
                secrets: Some(blob),
                now: "t1",
            };
            self.store
                .write(|tx| connections::update_secrets(tx, self.connection, &update))
                .unwrap();
        }
    }

    #[test]
    fn a_hit_is_served_from_memory_without_sqlite() {
        for f in fixtures() {
            a_hit_is_served_from_memory_without_sqlite_on(f);
        }
    }

    fn a_hit_is_served_from_memory_without_sqlite_on(f: Fixture) {
        assert!(f.store.cached_sealed(f.connection).is_none(), "cold");
        let hit = f.warm();
        assert_eq!(hit.connection.secrets.as_deref(), Some(&b"tokens-v1"[..]));
        assert_eq!(
            hit.integration.secrets.as_deref(),
            Some(&b"client-secret-v1"[..])
        );
        // A change behind the store's back (which keyport never makes: `serve` is the
        // only writer) is not seen by a hit, proving the hit read no SQLite.
        crate::store::testing::behind_the_back(
            &f.store,
            "UPDATE connections SET secrets = substr(secrets, 2)",
        );
        let hit = f.store.cached_sealed(f.connection).unwrap();
        assert_eq!(hit.connection.secrets.as_deref(), Some(&b"tokens-v1"[..]));
    }

    #[test]
    fn a_token_refresh_is_visible_to_the_next_read() {
        for f in fixtures() {
            a_token_refresh_is_visible_to_the_next_read_on(f);
        }
    }

    fn a_token_refresh_is_visible_to_the_next_read_on(f: Fixture) {
        f.warm();
        f.update_secrets(
            ConnectionStatus::Active,
            b"tokens-v2",
            &json!({"expires_at": 2}),
        );
        assert!(f.store.cached_sealed(f.connection).is_none());
        let read = f.store.sealed(f.connection).unwrap().unwrap();
        assert_eq!(read.connection.secrets.as_deref(), Some(&b"tokens-v2"[..]));
        assert_eq!(read.connection.row.params["expires_at"], 2);
        assert_eq!(
            f.warm().connection.secrets.as_deref(),
            Some(&b"tokens-v2"[..])
        );
    }

    #[test]
    fn status_changes_and_deletes_are_visible_to_the_next_read() {
        for f in fixtures() {
            status_changes_and_deletes_are_visible_to_the_next_read_on(f);
        }
    }

    fn status_changes_and_deletes_are_visible_to_the_next_read_on(f: Fixture) {
        f.warm();
        f.store
            .write(|tx| {
                connections::set_status(tx, f.connection, ConnectionStatus::Inactive, None, "t1")
            })
            .unwrap();
        assert_eq!(f.warm().connection.row.status, ConnectionStatus::Inactive);
        f.store
            .write(|tx| connections::soft_delete(tx, f.connection, "t2"))
            .unwrap();
        let read = f.store.sealed(f.connection).unwrap().unwrap();
        assert_eq!(read.connection.row.status, ConnectionStatus::Deleted);
        assert_eq!(read.connection.secrets, None, "credentials wiped");
    }

    #[test]
    fn an_expired_flow_failing_its_connection_is_visible_to_the_next_read() {
        for f in fixtures() {
            an_expired_flow_failing_its_connection_is_visible_to_the_next_read_on(f);
        }
    }

    fn an_expired_flow_failing_its_connection_is_visible_to_the_next_read_on(f: Fixture) {
        f.store
            .write(|tx| {
                connections::set_status(tx, f.connection, ConnectionStatus::Initiated, None, "t0")?;
                flows::insert(
                    tx,
                    &flows::NewFlow {
                        connection_id: f.connection,
                        state_hash: b"state",
                        connect_hash: b"connect",
                        app_key: "github",
                        secrets: b"sealed-verifier",
                        redirect_after: None,
                        expected_issuer: None,
                        now: "t0",
                        expires_at: 10,
                    },
                )
            })
            .unwrap();
        assert_eq!(f.warm().connection.row.status, ConnectionStatus::Initiated);
        assert_eq!(
            f.store
                .write(|tx| flows::expire(tx, 11, "t1"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(f.warm().connection.row.status, ConnectionStatus::Failed);
    }

    #[test]
    fn an_integration_update_is_visible_through_its_connections() {
        for f in fixtures() {
            an_integration_update_is_visible_through_its_connections_on(f);
        }
    }

    fn an_integration_update_is_visible_through_its_connections_on(f: Fixture) {
        f.warm();
        assert!(f.store.integration(f.integration).unwrap().is_some());
        let patch = IntegrationPatch {
            name: "renamed",
            config: &Map::new(),
            secret_keys: &["client_secret".into()],
            secrets: Some(b"client-secret-v2"),
            scopes: &["repo".into()],
            base_url: "https://api.github.com",
            enabled: false,
            now: "t1",
        };
        assert!(
            f.store
                .write(|tx| integrations::update(tx, f.integration, &patch))
                .unwrap()
        );
        assert!(f.store.cached_integration(f.integration).is_none());
        let read = f.warm();
        assert_eq!(
            read.integration.secrets.as_deref(),
            Some(&b"client-secret-v2"[..])
        );
        assert!(!read.integration.row.enabled);
        let alone = f.store.integration(f.integration).unwrap().unwrap();
        assert_eq!(alone.row.name, "renamed");
    }

    #[test]
    fn an_integration_delete_cascades_to_the_next_read_of_its_connections() {
        for f in fixtures() {
            an_integration_delete_cascades_to_the_next_read_of_its_connections_on(f);
        }
    }

    fn an_integration_delete_cascades_to_the_next_read_of_its_connections_on(f: Fixture) {
        f.warm();
        let deleted = f
            .store
            .write(|tx| {
                integrations::soft_delete(tx, f.integration, "t1")?;
                connections::delete_for_integration(tx, f.integration, "t1")
            })
            .unwrap();
        assert_eq!(deleted, vec![f.connection]);
        let read = f.warm();
        assert!(read.integration.row.deleted);
        assert_eq!(read.integration.secrets, None);
        assert_eq!(read.connection.row.status, ConnectionStatus::Deleted);
        assert_eq!(read.connection.secrets, None);
    }

    #[test]
    fn a_rolled_back_write_leaves_the_rows_as_they_were() {
        for f in fixtures() {
            a_rolled_back_write_leaves_the_rows_as_they_were_on(f);
        }
    }

    fn a_rolled_back_write_leaves_the_rows_as_they_were_on(f: Fixture) {
        f.warm();
        let failed: Result<(), StoreError> = f.store.write(|tx| {
            connections::soft_delete(tx, f.connection, "t1")?;
            Err(StoreError::NoVault)
        });
        assert!(failed.is_err());
        let read = f.warm();
        assert_eq!(read.connection.row.status, ConnectionStatus::Active);
        assert_eq!(read.connection.secrets.as_deref(), Some(&b"tokens-v1"[..]));
    }

    #[test]
    fn a_change_made_through_read_invalidates_all_the_same() {
        for f in fixtures() {
            a_change_made_through_read_invalidates_all_the_same_on(f);
        }
    }

    fn a_change_made_through_read_invalidates_all_the_same_on(f: Fixture) {
        f.warm();
        f.store
            .read(|db| connections::soft_delete(db, f.connection, "t1"))
            .unwrap();
        assert!(f.store.cached_sealed(f.connection).is_none());
        assert_eq!(f.warm().connection.row.status, ConnectionStatus::Deleted);
    }

    #[test]
    fn missing_rows_are_none() {
        for f in fixtures() {
            missing_rows_are_none_on(f);
        }
    }

    fn missing_rows_are_none_on(f: Fixture) {
        assert!(f.store.sealed(ConnectionId::new()).unwrap().is_none());
        assert!(f.store.integration(IntegrationId::new()).unwrap().is_none());
    }

    /// Readers racing a writer never see a version older than one whose write had been
    /// acknowledged before their read began.
    #[test]
    fn racing_readers_never_see_an_acknowledged_write_undone() {
        for f in fixtures() {
            racing_readers_never_see_an_acknowledged_write_undone_on(f);
        }
    }

    fn racing_readers_never_see_an_acknowledged_write_undone_on(f: Fixture) {
        let acknowledged = AtomicU64::new(0);
        let version = |s: &Sealed| {
            let v = s.connection.row.params.get("v");
            v.and_then(Value::as_u64).unwrap_or(0)
        };
        // Reads done after each acknowledgement: the writer waits for every reader to read
        // at least once between writes, so reads interleave with writes however the
        // threads are scheduled (a loaded machine may not run a reader for a while).
        let reads = AtomicU64::new(0);
        let mut stalled = false;
        const READERS: u64 = 3;
        std::thread::scope(|scope| {
            for _ in 0..READERS {
                scope.spawn(|| {
                    let mut last_floor = None;
                    while acknowledged.load(Ordering::SeqCst) < 60 {
                        let floor = acknowledged.load(Ordering::SeqCst);
                        let read = f.store.sealed(f.connection).unwrap().unwrap();
                        assert!(version(&read) >= floor, "{} < {floor}", version(&read));
                        if floor < 60 && last_floor != Some(floor) {
                            last_floor = Some(floor);
                            reads.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            // Whether every reader got to `count` reads within 5 s.
            let wait_for = |count: u64| {
                let deadline = Deadline::after(Duration::from_secs(5));
                while reads.load(Ordering::SeqCst) < count {
                    if deadline.passed() {
                        return false;
                    }
                    std::thread::yield_now();
                }
                true
            };
            stalled = !wait_for(READERS);
            for v in 1..=60 {
                if stalled {
                    // Let the readers go.
                    acknowledged.store(60, Ordering::SeqCst);
                    break;
                }
                let blob = format!("tokens-v{v}");
                f.update_secrets(ConnectionStatus::Active, blob.as_bytes(), &json!({"v": v}));
                acknowledged.store(v, Ordering::SeqCst);
                // Readers count one read per acknowledged version they saw, from 0.
                stalled = v < 60 && !wait_for(READERS * (v + 1));
            }
        });
        assert!(!stalled, "a reader did not run for 5 s");
        // Every reader read at every version from 0 to 59: the check above ran between
        // every pair of writes.
        assert_eq!(reads.load(Ordering::SeqCst), READERS * 60);
        let last = f.warm();
        assert_eq!(version(&last), 60);
        assert_eq!(last.connection.secrets.as_deref(), Some(&b"tokens-v60"[..]));
    }
}
