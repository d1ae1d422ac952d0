//! The tables' statements on every backend under test (see `testing`): the ones whose SQL
//! differs between dialects — label filters, JSON parameter edits, upserts, `RETURNING` —
//! give the same answers on each.
#![expect(clippy::unwrap_used, reason = "tests")]

use serde_json::{Map, Value, json};

use super::db::args;
use super::{
    ConnectionFilter, IntegrationPatch, NewConnection, NewIntegration, Store, StoreError, Window,
    connections, flows, integrations,
};
use crate::domain::{AuthScheme, ConnectionStatus};
use crate::ids::{ConnectionId, EntityId, IntegrationId};

const ALL: Window = Window {
    limit: 100,
    offset: 0,
};

fn integration(store: &Store) -> IntegrationId {
    let id = IntegrationId::new();
    let patch = IntegrationPatch {
        name: "github",
        config: &Map::new(),
        secret_keys: &[],
        secrets: Some(b"sealed"),
        scopes: &[],
        base_url: "https://api.github.com",
        enabled: true,
        now: "t0",
    };
    let new = NewIntegration {
        id,
        app_key: "github",
        auth_scheme: AuthScheme::OAuth2,
        fields: patch,
    };
    store.write(|db| integrations::insert(db, &new)).unwrap();
    id
}

fn connection(
    store: &Store,
    integration: IntegrationId,
    entity: &str,
    labels: &[&str],
) -> ConnectionId {
    let id = ConnectionId::new();
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let new = NewConnection {
        id,
        integration_id: integration,
        entity_id: &EntityId::parse(entity).unwrap(),
        app_key: "github",
        status: ConnectionStatus::Initiated,
        status_reason: None,
        labels: &labels,
        params: &Map::new(),
        secret_keys: &[],
        secrets: None,
        now: "t0",
    };
    store.write(|db| connections::insert(db, &new)).unwrap();
    id
}

fn params(store: &Store, id: ConnectionId) -> Value {
    let found = store.read(|db| connections::get(db, id)).unwrap().unwrap();
    Value::Object(found.params)
}

#[test]
fn filters_json_edits_and_counts_agree_on_every_backend() {
    for (store, scratch) in super::testing::scratches() {
        let backend = scratch.name;
        let app = integration(&store);
        let a = connection(&store, app, "alice", &["work", "mail"]);
        let b = connection(&store, app, "alice", &["home"]);
        connection(&store, app, "bob", &["work"]);
        let filter = ConnectionFilter {
            labels: vec!["work".into()],
            entities: vec![EntityId::parse("alice").unwrap()],
            ..ConnectionFilter::default()
        };
        let found = store
            .read(|db| connections::list(db, &filter, ALL))
            .unwrap();
        assert_eq!(
            found.iter().map(|c| c.id).collect::<Vec<_>>(),
            [a],
            "{backend}"
        );
        assert_eq!(store.read(|db| connections::count(db, &filter)).unwrap(), 1);
        let everyone = ConnectionFilter::default();
        assert_eq!(
            store.read(|db| connections::count(db, &everyone)).unwrap(),
            3
        );

        store
            .write(|db| connections::set_param(db, a, "account", "a@example.com"))
            .unwrap();
        store
            .write(|db| connections::set_default(db, a, true, "t1"))
            .unwrap();
        assert_eq!(
            params(&store, a),
            json!({"account": "a@example.com", "default": true}),
            "{backend}"
        );
        store
            .write(|db| connections::set_default(db, b, true, "t2"))
            .unwrap();
        assert_eq!(
            params(&store, a),
            json!({"account": "a@example.com"}),
            "{backend}"
        );
        assert_eq!(params(&store, b), json!({"default": true}), "{backend}");
        store
            .write(|db| connections::set_default(db, b, false, "t3"))
            .unwrap();
        assert_eq!(params(&store, b), json!({}), "{backend}");

        let entities = store.read(connections::entities).unwrap();
        let counts: Vec<(String, u64)> = entities
            .iter()
            .map(|(e, _, n)| (e.as_str().to_string(), *n))
            .collect();
        assert_eq!(
            counts,
            [("alice".to_string(), 2), ("bob".to_string(), 1)],
            "{backend}"
        );
        let alice = EntityId::parse("alice").unwrap();
        let active = store
            .read(|db| connections::active_counts(db, Some(&alice)))
            .unwrap();
        assert!(active.is_empty(), "{backend}: none ACTIVE yet");
    }
}

fn flow<'a>(connection_id: ConnectionId, state: &'a [u8], expires_at: i64) -> flows::NewFlow<'a> {
    flows::NewFlow {
        connection_id,
        state_hash: state,
        connect_hash: state,
        app_key: "github",
        secrets: b"sealed-verifier",
        redirect_after: None,
        expected_issuer: Some("https://issuer.example"),
        now: "t0",
        expires_at,
    }
}

#[test]
fn a_reconnect_replaces_the_flow_and_expiry_fails_the_connection_on_every_backend() {
    for (store, scratch) in super::testing::scratches() {
        let backend = scratch.name;
        let app = integration(&store);
        let id = connection(&store, app, "alice", &[]);
        store
            .write(|db| flows::insert(db, &flow(id, b"first", 10)))
            .unwrap();
        assert!(store.write(|db| flows::mark_used(db, id, "t1")).unwrap());
        assert!(
            !store.write(|db| flows::mark_used(db, id, "t1")).unwrap(),
            "{backend}: replay"
        );
        store
            .write(|db| flows::insert(db, &flow(id, b"second", 20)))
            .unwrap();
        assert!(
            store
                .read(|db| flows::by_state(db, b"first"))
                .unwrap()
                .is_none(),
            "{backend}"
        );
        let open = store
            .read(|db| flows::by_state(db, b"second"))
            .unwrap()
            .unwrap();
        assert!(!open.used, "{backend}: a new flow is open again");
        assert_eq!(open.connection_id, id);
        assert_eq!(
            store.read(flows::next_expiry).unwrap(),
            Some(20),
            "{backend}"
        );
        let failed = store.write(|db| flows::expire(db, 21, "t2")).unwrap();
        assert_eq!(failed, [id], "{backend}");
        let row = store.read(|db| connections::get(db, id)).unwrap().unwrap();
        assert_eq!(row.status, ConnectionStatus::Failed, "{backend}");
        assert_eq!(store.read(flows::next_expiry).unwrap(), None, "{backend}");
    }
}

#[test]
fn a_failed_write_rolls_back_and_raw_statements_bind_alike() {
    for (store, scratch) in super::testing::scratches() {
        let backend = scratch.name;
        let app = integration(&store);
        let failed: Result<(), StoreError> = store.write(|db| {
            integrations::soft_delete(db, app, "t1")?;
            Err(StoreError::NoVault)
        });
        assert!(failed.is_err());
        let row = store
            .read(|db| integrations::get(db, app))
            .unwrap()
            .unwrap();
        assert!(!row.deleted && row.enabled, "{backend}: rolled back");
        let blob = store.read(|db| integrations::secrets(db, app)).unwrap();
        assert_eq!(blob.as_deref(), Some(&b"sealed"[..]), "{backend}");
        let changed = store
            .write(|db| {
                db.execute(
                    "UPDATE integrations SET enabled = ?1 WHERE id = ?2",
                    &args![false, app.to_string().as_str()],
                )
            })
            .unwrap();
        assert_eq!(changed, 1, "{backend}");
        let listed = store.read(|db| integrations::list(db, false)).unwrap();
        assert!(listed.is_empty(), "{backend}: disabled ones are left out");
    }
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let url = super::DatabaseUrl::parse("postgres://keyport:hunter2@127.0.0.1:1/vault").unwrap();
    let at = super::Location::Postgres(url);
    // Nothing listens on port 1: both fail.
    for failed in [
        Store::open(&at).err().map(|e| e.to_string()),
        Store::peek_vault(&at).err().map(|e| e.to_string()),
    ] {
        let failed = failed.unwrap();
        assert!(!failed.contains("hunter2"), "{failed}");
    }
    let shown = format!("{at} {at:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("127.0.0.1:1/vault"),
        "{shown}"
    );
}

/// Polls `done` for up to two seconds: what another instance committed reaches this one
/// as a notification, not at once.
fn soon(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = crate::clock::Deadline::after(std::time::Duration::from_secs(2));
    while !done() {
        assert!(!deadline.passed(), "{what}: not within 2 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn instances_on_one_postgres_database_follow_each_others_writes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for (first, scratch) in super::testing::scratches() {
        let Some(second) = super::testing::second_instance(&first) else {
            continue;
        };
        let second = second.unwrap();
        let reloads = Arc::new(AtomicUsize::new(0));
        let keys = Arc::new(AtomicUsize::new(0));
        let (r, k) = (Arc::clone(&reloads), Arc::clone(&keys));
        second
            .watch(Box::new(move |db| {
                k.store(super::api_keys::all(db)?.len(), Ordering::SeqCst);
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }))
            .unwrap();
        soon("listening (the key ring loaded)", || {
            reloads.load(Ordering::SeqCst) >= 1
        });

        // A row the second instance caches goes stale when the first changes it.
        let app = integration(&first);
        let id = connection(&first, app, "alice", &[]);
        soon("the insert's notice heard", || {
            second.sealed(id).unwrap().is_some() && second.cached_sealed(id).is_some()
        });
        first
            .write(|db| connections::set_param(db, id, "region", "eu"))
            .unwrap();
        let written = crate::clock::Stopwatch::start();
        soon("the cached row dropped", || {
            second.cached_sealed(id).is_none()
        });
        println!("the notice came after {:?}", written.elapsed());
        let seen = second.sealed(id).unwrap().unwrap();
        assert_eq!(seen.connection.row.params.get("region"), Some(&json!("eu")));

        // A new API key reloads the second instance's key ring.
        let new = super::NewApiKey {
            id: crate::ids::ApiKeyId::new(),
            name: "agent",
            key_hash: &[7; 32],
            prefix: "kp_1234",
            permission: crate::domain::api_key::Permission::Use,
            entity: None,
            restrictions: &crate::domain::api_key::Restrictions::default(),
            now: "t2",
        };
        first.write(|db| super::api_keys::insert(db, &new)).unwrap();
        soon("the key ring reloaded with the new key", || {
            keys.load(Ordering::SeqCst) == 1
        });

        // A named lock is held across instances until it is dropped.
        let patience = std::time::Duration::from_millis(200);
        let held = first.hold("renew:x", patience).unwrap();
        let busy = second.hold("renew:x", patience).map(drop);
        assert!(matches!(busy, Err(StoreError::Busy(_))), "{busy:?}");
        assert!(second.hold("renew:y", patience).is_ok(), "another name");
        drop(held);
        assert!(second.hold("renew:x", patience).is_ok(), "released");
        drop((first, second));
        drop(scratch);
    }
}
