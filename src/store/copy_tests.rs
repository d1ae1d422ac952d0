//! The copy against both engines' real schemas: every table of a migrated schema is one the
//! copy knows, every blob column is named sealed or not, rows move exactly between every
//! pair of engines, and a destination holding anything is refused and left as it was.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use super::*;
use crate::store::db::args;
use crate::store::testing::{Scratch, behind_the_back, empty_postgres, scratches};

/// The blob columns that hold no sealed value: the vault header, hashes and MACs.
const NOT_SEALED: &[(&str, &str)] = &[
    ("vault", "header"),
    ("vault", "header_sha256"),
    ("vault", "wrapped_dek"),
    ("api_keys", "key_hash"),
    ("oauth_flows", "state_hash"),
    ("oauth_flows", "connect_hash"),
    ("audit_log", "mac"),
    ("audit_chain", "first_prev"),
    ("audit_chain", "last_mac"),
    ("audit_chain", "mac"),
];

#[test]
fn every_table_of_both_schemas_is_copied_and_every_blob_is_named() {
    for (store, scratch) in scratches() {
        let schema = store
            .snapshot(|db| schema(db, "scratch"))
            .unwrap_or_else(|e| panic!("{}: {e}", scratch.name));
        assert_eq!(schema.len(), TABLES.len(), "{}", scratch.name);
        for (table, columns) in &schema {
            for (column, kind) in columns {
                if *kind != Kind::Blob {
                    continue;
                }
                let sealed = SEALED
                    .iter()
                    .any(|s| s.table == *table && s.column == column);
                let plain = NOT_SEALED.contains(&(*table, column.as_str()));
                assert!(
                    sealed != plain,
                    "{}: {table}.{column} must be named in SEALED or NOT_SEALED, once",
                    scratch.name
                );
            }
        }
        for sealed in SEALED {
            assert!(schema[sealed.table].contains_key(sealed.row));
            assert_eq!(schema[sealed.table][sealed.column], Kind::Blob);
        }
    }
}

/// One row in every table, the types each engine stores differently among them.
fn fill(store: &Store) {
    let blob = |n: u8| vec![n; 40];
    store
        .write(|db| {
            db.execute(
                "INSERT INTO integrations (id, app_key, name, auth_scheme, config, secrets, base_url, enabled, deleted, created_at, updated_at)
                 VALUES ('int_1', 'github', 'gh', 'OAUTH2', '{\"a\":1}', ?1, 'https://x', ?2, ?3, 't1', 't2')",
                &args![&blob(1), false, true],
            )?;
            db.batch("INSERT INTO entities (id, created_at) VALUES ('default', 't1')")?;
            for (id, secrets) in [("ca_1", Some(blob(2))), ("ca_2", None)] {
                db.execute(
                    "INSERT INTO connections (id, integration_id, entity_id, app_key, status, secrets, created_at, updated_at)
                     VALUES (?1, 'int_1', 'default', 'github', 'ACTIVE', ?2, 't1', 't2')",
                    &args![id, secrets.as_ref()],
                )?;
            }
            db.execute(
                "INSERT INTO oauth_flows (connection_id, state_hash, connect_hash, app_key, secrets, created_at, expires_at)
                 VALUES ('ca_2', ?1, ?2, 'github', ?3, 't1', ?4)",
                &args![&blob(3), &blob(4), &blob(5), 1_900_000_000_i64],
            )?;
            db.execute(
                "INSERT INTO api_keys (id, name, key_hash, prefix, permission, created_at, allowed_apps)
                 VALUES ('key_1', 'agent', ?1, 'kp_', 'use', 't1', '[\"github\"]')",
                &args![&blob(6)],
            )?;
            db.execute(
                "INSERT INTO audit_log (seq, at_ms, event, outcome, status, latency_ms, mac)
                 VALUES (1, ?1, 'proxy', 'ok', 200, 12, ?2)",
                &args![1_700_000_000_000_i64, &blob(7)],
            )?;
            db.execute(
                "INSERT INTO audit_chain (id, first_seq, first_prev, last_seq, last_mac, mac)
                 VALUES (1, 1, ?1, 1, ?2, ?3)",
                &args![&blob(8), &blob(7), &blob(9)],
            )
        })
        .unwrap();
}

/// A new SQLite file, and a new PostgreSQL database when the tests have a server.
fn destinations() -> Vec<(Location, Option<Scratch>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let file = Location::File(dir.path().join("copy.db"));
    let mut out = vec![(file, None, dir)];
    if let Some((at, scratch)) = empty_postgres() {
        out.push((at, Some(scratch), tempfile::tempdir().unwrap()));
    }
    out
}

#[test]
fn rows_move_exactly_between_every_pair_of_engines_and_back() {
    for (source, scratch) in scratches() {
        fill(&source);
        let before = source.tally().unwrap();
        assert!(before.iter().all(|t| t.rows > 0), "{before:?}");
        for (to, _database, dir) in destinations() {
            let copied = source.copy_into(&to).unwrap();
            assert_eq!(copied, before, "{} -> {to}", scratch.name);
            let copy = Store::open(&to).unwrap();
            assert_eq!(copy.tally().unwrap(), before, "{} -> {to}", scratch.name);
            assert_eq!(copy.read_vault().unwrap(), source.read_vault().unwrap());
            let mut sealed = Vec::new();
            let count = copy
                .each_sealed(|column, row, blob| {
                    sealed.push((column.table, row.to_string(), blob.to_vec()));
                    Ok::<_, StoreError>(())
                })
                .unwrap();
            assert_eq!(count, 3);
            assert!(sealed.contains(&("oauth_flows", "ca_2".into(), vec![5; 40])));
            // And back, into a file.
            let back = Location::File(dir.path().join("back.db"));
            assert_eq!(copy.copy_into(&back).unwrap(), before);
            assert_eq!(Store::open(&back).unwrap().tally().unwrap(), before);
        }
    }
}

#[test]
fn a_destination_holding_anything_is_refused_and_left_as_it_was() {
    let stores = scratches();
    for (source, scratch) in &stores {
        for (target, other) in &stores {
            let before = target.tally().unwrap();
            let refused = source.copy_into(&target.location());
            assert!(
                matches!(&refused, Err(CopyError::NotEmpty(why)) if why.contains("vault")),
                "{} -> {}: {refused:?}",
                scratch.name,
                other.name
            );
            assert_eq!(target.tally().unwrap(), before);
        }
        for (to, _database, _dir) in destinations() {
            let other = Store::open(&to).unwrap();
            drop(other);
            behind_the_back_at(&to, "CREATE TABLE notes (body TEXT)");
            let refused = source.copy_into(&to);
            assert!(
                matches!(&refused, Err(CopyError::NotEmpty(why)) if why.contains("notes")),
                "{refused:?}"
            );
        }
    }
}

#[test]
fn a_fresh_keyport_schema_with_no_vault_is_empty_enough() {
    for (source, scratch) in scratches() {
        fill(&source);
        for (to, _database, _dir) in destinations() {
            drop(Store::open(&to).unwrap());
            let copied = source.copy_into(&to);
            assert_eq!(
                copied.unwrap(),
                source.tally().unwrap(),
                "{} -> {to}",
                scratch.name
            );
        }
    }
}

/// Runs `sql` on the database at `at` (a file or a PostgreSQL database).
fn behind_the_back_at(at: &Location, sql: &str) {
    match at {
        Location::File(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap(),
        Location::Postgres(url) => {
            ::postgres::Client::connect(url.expose_secret(), ::postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap()
        }
    }
}

#[test]
fn a_copy_that_fails_leaves_no_new_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let source = Store::scratch(dir.path());
    fill(&source);
    // SQLite keeps what it is given: text in an INTEGER column does not move.
    behind_the_back(&source, "UPDATE audit_log SET status = 'two hundred'");
    let to = dir.path().join("copy.db");
    let failed = source.copy_into(&Location::File(to.clone()));
    assert!(
        matches!(&failed, Err(CopyError::Column { table: "audit_log", column, .. }) if column == "status"),
        "{failed:?}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("copy.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_table_the_copy_does_not_know_is_refused_not_left_behind() {
    for (source, scratch) in scratches() {
        behind_the_back(&source, "CREATE TABLE added_later (id TEXT PRIMARY KEY)");
        let dir = tempfile::tempdir().unwrap();
        let refused = source.copy_into(&Location::File(dir.path().join("copy.db")));
        assert!(
            matches!(&refused, Err(CopyError::Schema { side: "source", detail }) if detail.contains("added_later")),
            "{}: {refused:?}",
            scratch.name
        );
    }
}

#[test]
fn values_move_only_where_they_keep_their_meaning() {
    assert_eq!(Kind::of("INTEGER"), Some(Kind::Int));
    assert_eq!(Kind::of("bigint"), Some(Kind::Int));
    assert_eq!(Kind::of("boolean"), Some(Kind::Bool));
    assert_eq!(Kind::of("BLOB"), Some(Kind::Blob));
    assert_eq!(Kind::of("bytea"), Some(Kind::Blob));
    assert_eq!(Kind::of("text"), Some(Kind::Text));
    assert_eq!(Kind::of("jsonb"), None);
    assert!(matches!(
        bind(&Value::Int(1), Kind::Bool),
        Ok(Param::Bool(true))
    ));
    assert!(matches!(
        bind(&Value::Int(0), Kind::Bool),
        Ok(Param::Bool(false))
    ));
    assert!(bind(&Value::Int(2), Kind::Bool).is_err());
    assert!(matches!(
        bind(&Value::Bool(true), Kind::Int),
        Ok(Param::Int(1))
    ));
    let refused = bind(&Value::Blob(b"sealed secret".to_vec()), Kind::Text).unwrap_err();
    assert!(!refused.contains("115"), "no byte of the value: {refused}");
}

#[test]
fn a_served_postgres_database_is_seen_until_its_keyport_has_gone() {
    for (store, scratch) in scratches() {
        let at = store.location();
        if let Location::File(_) = at {
            // Another process's lock is what shows on SQLite: the CLI tests hold that.
            assert_eq!(Store::served(&at).unwrap(), None, "{}", scratch.name);
            continue;
        }
        let seen = Store::served(&at).unwrap();
        assert!(seen.is_some_and(|who| who.contains("keyport serve")));
        drop(store);
        let deadline = crate::clock::Deadline::after(std::time::Duration::from_secs(10));
        while Store::served(&at).unwrap().is_some() {
            assert!(!deadline.passed(), "still seen as served");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn rows_that_take_several_batches_all_arrive() {
    for (source, scratch) in scratches() {
        // 1,201 records: two full batches of audit_log's 17 columns and a partial one.
        source
            .write(|db| {
                for seq in 1..=1201_i64 {
                    db.execute(
                        "INSERT INTO audit_log (seq, at_ms, event, outcome, status, mac)
                         VALUES (?1, ?2, 'proxy', 'ok', 200, ?3)",
                        &args![seq, seq * 1000, &seq.to_le_bytes().to_vec()],
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let before = source.tally().unwrap();
        for (to, _database, _dir) in destinations() {
            assert_eq!(
                source.copy_into(&to).unwrap(),
                before,
                "{} -> {to}",
                scratch.name
            );
            assert_eq!(Store::open(&to).unwrap().tally().unwrap(), before);
        }
    }
}
