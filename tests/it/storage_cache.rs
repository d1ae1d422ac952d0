//! The store's row cache against the service's own writes: after each operation through
//! the service API — a token renewal that reseals the credentials, disable and enable, an
//! integration update, an integration delete that cascades, a connection delete — the next
//! cached read agrees with SQLite at once, and a hit never disagrees with it.

use keyport::domain::ConnectionStatus;
use keyport::ids::ConnectionId;
use keyport::service::UpdateIntegration;
use keyport::store::{Store, connections, integrations};
use serde_json::json;

use crate::common::service::Library;
use crate::schemes::jwt::{robot, robot_at_dockerhub};

/// What SQLite holds for `id` and its integration: status, both sealed blobs, and the
/// integration's name and deleted flag.
type Rows = (
    ConnectionStatus,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    String,
    bool,
);

fn in_sqlite(store: &Store, id: ConnectionId) -> Rows {
    store
        .read(|db| {
            let c = connections::get(db, id)?.expect("connection row");
            let i = integrations::get(db, c.integration_id)?.expect("integration row");
            Ok((
                c.status,
                connections::secrets(db, id)?,
                integrations::secrets(db, i.id)?,
                i.name,
                i.deleted,
            ))
        })
        .expect("read")
}

fn in_cache(store: &Store, id: ConnectionId) -> Option<Rows> {
    let s = store.cached_sealed(id)?;
    Some((
        s.connection.row.status,
        s.connection.secrets.clone(),
        s.integration.secrets.clone(),
        s.integration.row.name.clone(),
        s.integration.row.deleted,
    ))
}

/// Reads `id` until a read leaves it cached, and returns what the cache holds. On SQLite
/// the first fill stays; on PostgreSQL the store also hears its own writes announced
/// (`store::postgres::listen`), and a notice arriving after a fill makes that entry stale,
/// so the fill is repeated until the notices are in (bounded: they take milliseconds).
fn warm(store: &Store, id: ConnectionId, what: &str) -> Rows {
    let deadline = keyport::clock::Deadline::after(std::time::Duration::from_secs(2));
    loop {
        store.sealed(id).expect("fill").expect("exists");
        if let Some(cached) = in_cache(store, id) {
            return cached;
        }
        assert!(!deadline.passed(), "{what}: never cached within 2 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Warms the cache for `id`, runs `op`, and checks that the very next reads agree with
/// SQLite: a hit (if any) and a fill. Returns the rows after `op`.
fn after(kp: &Library, id: ConnectionId, what: &str, op: impl FnOnce()) -> Rows {
    let store = kp.service.store();
    warm(store, id, what);
    let before = in_sqlite(store, id);
    op();
    let now = in_sqlite(store, id);
    assert_ne!(before, now, "{what}: the operation changed the rows");
    if let Some(hit) = in_cache(store, id) {
        assert_eq!(hit, now, "{what}: a stale hit");
    }
    assert_eq!(warm(store, id, what), now, "{what}: refilled");
    now
}

#[test]
fn every_service_write_is_seen_by_the_next_cached_read() {
    let (peer, kp, integration, id) = robot_at_dockerhub(0.0);
    let svc = &kp.service;

    after(&kp, id, "first login", || {
        kp.prepare(id).expect("login");
    });
    let renewed = after(&kp, id, "token renewal", || {
        kp.advance(250);
        peer.control(json!({ "advance": 250 }));
        kp.prepare(id).expect("renewal");
    });
    assert_eq!(peer.get("/_stats")["logins"], json!(2));
    assert_eq!(renewed.0, ConnectionStatus::Active);

    let off = after(&kp, id, "disable", || {
        svc.set_connection_enabled(&kp.admin, id, false)
            .expect("disable");
    });
    assert_eq!(off.0, ConnectionStatus::Inactive);
    after(&kp, id, "enable", || {
        svc.set_connection_enabled(&kp.admin, id, true)
            .expect("enable");
    });
    let renamed = after(&kp, id, "integration update", || {
        let update = UpdateIntegration {
            name: Some("docker hub, renamed".into()),
            ..UpdateIntegration::default()
        };
        svc.update_integration(&kp.admin, integration, update)
            .expect("update");
    });
    assert_eq!(renamed.3, "docker hub, renamed");

    let other = robot(&kp, integration);
    let deleted = after(&kp, other, "connection delete", || {
        svc.delete_connection(&kp.admin, other).expect("delete");
    });
    assert_eq!((deleted.0, deleted.1), (ConnectionStatus::Deleted, None));

    let cascaded = after(&kp, id, "integration delete", || {
        assert_eq!(
            svc.delete_integration(&kp.admin, integration)
                .expect("delete"),
            1
        );
    });
    assert_eq!((cascaded.0, cascaded.1), (ConnectionStatus::Deleted, None));
    assert!(cascaded.4, "the integration is marked deleted");
}
