//! The chain against every way of rewriting history without the key: each one is named by
//! `verify`, pruning keeps what remains verifiable, and a writer restarted on a tampered
//! log does not sign the damage away.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::Retention;
use super::record::Entry;
use super::verify::{Verdict, verify};
use super::writer::{Msg, Writer};
use crate::clock::Clock;
use crate::store::Store;
use crate::store::testing::Scratch;
use ring::hmac;

fn key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &[42; 32])
}

/// Runs `sql` on the store behind the writer's back (someone editing the database).
fn tamper(store: &Store, sql: &str) {
    store.read(|db| db.batch(sql)).unwrap();
}

fn entry(n: usize) -> Entry {
    Entry {
        at_ms: Clock::system().unix_ms() + n as i64,
        event: "proxy".into(),
        key_name: Some("agent".into()),
        method: Some("GET".into()),
        path: Some(format!("/items/{n}")),
        outcome: "ok".into(),
        status: Some(200),
        ..Entry::default()
    }
}

/// Runs a writer on `store` until `n` more records are on disk, then stops it.
fn write(store: &Store, n: usize, retention: Retention) {
    let writer = Writer {
        db: store.appender().unwrap(),
        key: key(),
        clock: Clock::system(),
        retention,
    };
    let (tx, rx) = mpsc::sync_channel(16);
    let thread: JoinHandle<()> = std::thread::spawn(move || writer.run(rx));
    for i in 0..n {
        tx.send(Msg::Entry(entry(i))).unwrap();
    }
    let (done, wait) = mpsc::channel();
    tx.send(Msg::Barrier(done)).unwrap();
    wait.recv().unwrap();
    drop(tx);
    thread.join().unwrap();
}

fn check(store: &Store) -> Verdict {
    store.snapshot(|db| verify(db, &key())).unwrap()
}

/// A store on each backend under test, holding `n` records.
fn logged(n: usize) -> Vec<(Store, Scratch)> {
    let stores = crate::store::testing::scratches();
    for (store, _) in &stores {
        write(store, n, Retention::default());
    }
    stores
}

/// What `verify` says of a 5-record log after `sql`, on each backend.
fn tampered(sql: &str) -> Vec<(Verdict, &'static str)> {
    logged(5)
        .into_iter()
        .map(|(store, scratch)| {
            tamper(&store, sql);
            (check(&store), scratch.name)
        })
        .collect()
}

fn broken_at(verdict: &Verdict) -> i64 {
    verdict.broken.as_ref().map(|b| b.seq).unwrap_or(-1)
}

#[test]
fn an_untouched_log_verifies_and_a_restart_continues_the_chain() {
    for (store, _scratch) in logged(5) {
        an_untouched_log_verifies_and_a_restart_continues_the_chain_on(&store);
    }
}

fn an_untouched_log_verifies_and_a_restart_continues_the_chain_on(store: &Store) {
    let verdict = check(store);
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!(
        (verdict.records, verdict.first_seq, verdict.last_seq),
        (5, Some(1), Some(5))
    );
    write(store, 3, Retention::default());
    let verdict = check(store);
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!(verdict.last_seq, Some(8));
}

#[test]
fn every_kind_of_rewrite_is_named() {
    let cases = [
        ("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3", 3),
        ("UPDATE audit_log SET at_ms = at_ms + 1 WHERE seq = 2", 2),
        ("UPDATE audit_log SET mac = substr(mac, 2) WHERE seq = 4", 4),
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq >= 4", 4),
        ("DELETE FROM audit_log WHERE seq = 1", 1),
        // Reordering: records 2 and 3 change places.
        (
            "UPDATE audit_log SET seq = 100 WHERE seq = 2; \
             UPDATE audit_log SET seq = 2 WHERE seq = 3; \
             UPDATE audit_log SET seq = 3 WHERE seq = 100",
            2,
        ),
        ("UPDATE audit_chain SET last_seq = 4", 1),
        ("DELETE FROM audit_chain", 1),
    ];
    for (sql, seq) in cases {
        for (verdict, backend) in tampered(sql) {
            assert_eq!(broken_at(&verdict), seq, "{backend}: {sql}: {verdict:?}");
        }
    }
}

#[test]
fn pruning_keeps_what_remains_verifiable() {
    for (store, _scratch) in logged(10) {
        pruning_keeps_what_remains_verifiable_on(&store);
    }
}

fn pruning_keeps_what_remains_verifiable_on(store: &Store) {
    let small = Retention {
        days: 90,
        max_records: 3,
    };
    write(store, 0, small);
    let verdict = check(store);
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!((verdict.records, verdict.first_seq), (3, Some(8)));
    // Cutting more of the old end than pruning did shows.
    tamper(store, "DELETE FROM audit_log WHERE seq = 8");
    assert_eq!(broken_at(&check(store)), 8);
}

#[test]
fn a_writer_restarted_on_a_cut_log_leaves_the_damage_visible() {
    for (store, _scratch) in logged(5) {
        a_writer_restarted_on_a_cut_log_leaves_the_damage_visible_on(&store);
    }
}

fn a_writer_restarted_on_a_cut_log_leaves_the_damage_visible_on(store: &Store) {
    tamper(store, "DELETE FROM audit_log WHERE seq = 5");
    write(store, 2, Retention::default());
    let verdict = check(store);
    assert!(!verdict.intact(), "{verdict:?}");
    assert_eq!(
        verdict.last_seq,
        Some(6),
        "the chain goes on from the last record"
    );
}

#[test]
fn writers_of_two_instances_extend_one_chain() {
    for (first, scratch) in crate::store::testing::scratches() {
        let Some(second) = crate::store::testing::second_instance(&first) else {
            continue;
        };
        let second = second.unwrap();
        let (a, b) = (&first, &second);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| write(a, 50, Retention::default()));
                s.spawn(|| write(b, 50, Retention::default()));
            }
        });
        let verdict = check(&first);
        assert!(verdict.intact() && verdict.records == 300, "{verdict:?}");
        let count = first
            .read(|db| Ok(crate::store::audit::last(db)?.map(|(seq, _)| seq)))
            .unwrap();
        assert_eq!(
            count,
            Some(300),
            "every record of both writers, numbered once"
        );
        drop((first, second));
        drop(scratch);
    }
}
