//! Scale, start and size: 100,000 connections over 10,000 entities created through the
//! API, then get-by-id and list-by-entity (wrk, a random id or entity per request) against
//! a database of 100 connections over 10 entities, the database's size per connection and
//! the restart time; then, at the default KDF calibration, the unlock, the cold start, the
//! binary's size and keyport's memory idle and under load.

use std::path::Path;
use std::time::Duration;

use crate::common::Server;
use crate::harness::{
    Settings, bearer_integration, bin, connect, dir_bytes, peak_rss, pid, populate, rss_kib, start,
};
use crate::report::{Goal, Report, count, mb, mb_kib, mib};
use crate::wrk::{Target, Wrk};

/// The binary's size goal, in bytes (the 20 MB).
const BINARY_GOAL: u64 = 20_000_000;

pub fn section_scale(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!(
        "== scale: {} connections over {} entities",
        s.rows, s.entities
    );
    let (small_count, small_entities) = (100usize, 10usize);
    let (small, small_ids, _) = populated(s, &root.join("small"), small_count, small_entities);
    let big_dir = root.join("big");
    let (big, big_ids, took) = populated(s, &big_dir, s.rows, s.entities);
    let made = big_ids.len();
    created(s, r, made, took);
    // Entities actually populated (all of them unless the cap cut the create short).
    let big_entities = s.entities.min(made.max(1));
    let lines = |name: &str, items: Vec<String>| {
        let file = root.join(name);
        std::fs::write(&file, items.join("\n") + "\n").expect("write the id list");
        file
    };
    let entities = |n: usize| (0..n).map(|e| format!("e{e}")).collect::<Vec<_>>();
    let targets = [
        by_id(&big, &lines("big-ids.txt", big_ids)),
        by_id(&small, &lines("small-ids.txt", small_ids)),
        by_entity(&big, &lines("big-entities.txt", entities(big_entities))),
        by_entity(
            &small,
            &lines("small-entities.txt", entities(small_entities)),
        ),
    ];
    let load = s.load(s.connections);
    let g = w.alternate(
        &[("get-big", &targets[0]), ("get-small", &targets[1])],
        load,
        s.rounds,
    );
    let small_label = small_count.to_string();
    r.compared(
        &format!("get by id, {} vs {small_count} connections", count(made)),
        (&g[0], &g[1]),
        &small_label,
        Goal::ratio(0.9),
    );
    let l = w.alternate(
        &[("list-big", &targets[2]), ("list-small", &targets[3])],
        load,
        s.rounds,
    );
    r.compared(
        &format!(
            "list by entity ({} each), {} vs {small_count}",
            made / big_entities,
            count(made)
        ),
        (&l[0], &l[1]),
        &small_label,
        Goal::ratio(0.9),
    );
    drop(small);
    size_and_restart(r, big, &big_dir, made);
}

/// The bulk create's row, and a note when the cap cut it short.
fn created(s: &Settings, r: &mut Report, made: usize, took: Duration) {
    r.row(
        &format!(
            "create {} connections over {} entities, {} clients",
            count(s.rows),
            count(s.entities),
            s.creators
        ),
        (
            format!(
                "{made} in {:.1} s ({:.0}/s)",
                took.as_secs_f64(),
                made as f64 / took.as_secs_f64()
            ),
            String::new(),
        ),
        "",
        ("", None),
    );
    if made < s.rows {
        r.note(format!(
            "the bulk create stopped at its {} s cap after {made} connections",
            s.create_cap.as_secs()
        ));
    }
}

fn by_id(kp: &Server, ids: &Path) -> Target {
    Target::get(&kp.url)
        .key(&kp.admin)
        .random_paths(ids, "/api/v1/connectedAccounts/")
}

fn by_entity(kp: &Server, entities: &Path) -> Target {
    Target::get(&kp.url)
        .key(&kp.admin)
        .random_paths(entities, "/api/v1/connectedAccounts?user_uuid=")
}

/// keyport in `dir` with `count` BEARER_TOKEN connections over `entities` entities: the
/// server, the ids, and the time the create took.
fn populated(
    s: &Settings,
    dir: &Path,
    count: usize,
    entities: usize,
) -> (Server, Vec<String>, Duration) {
    let kp = start(dir, Some("0"));
    let integration = bearer_integration(&kp, "http://127.0.0.1:9");
    let (ids, took) = populate(&kp, &integration, count, entities, s.creators, s.create_cap);
    (kp, ids, took)
}

/// The database size after a clean stop, and the time to restart with `made` connections.
fn size_and_restart(r: &mut Report, mut big: Server, big_dir: &Path, made: usize) {
    big.stop();
    let bytes = dir_bytes(big_dir);
    r.row(
        "database size (after the shutdown checkpoint)",
        (
            format!(
                "{} = {:.0} bytes per connection",
                mib(bytes),
                bytes as f64 / made.max(1) as f64
            ),
            String::new(),
        ),
        "",
        ("", None),
    );
    let restarted = start(big_dir, Some("0"));
    r.row(
        &format!(
            "restart with {} connections, to first /healthz",
            count(made)
        ),
        (
            format!(
                "{:.0} ms (KDF at the floor)",
                restarted.ready.as_secs_f64() * 1000.0
            ),
            String::new(),
        ),
        "",
        ("", None),
    );
}

/// Removes ANSI colour sequences (keyport colours its log even into a file).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (false, c) => out.push(c),
            (true, 'm') => in_escape = false,
            (true, _) => {}
        }
    }
    out
}

fn unlock_ms(log: &str) -> Option<u64> {
    strip_ansi(log)
        .lines()
        .rev()
        .find(|l| l.contains("vault unlocked"))
        .and_then(|l| l.split("ms=").nth(1))
        .and_then(|v| {
            v.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
        })
}

pub fn section_start(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== start and size (default KDF calibration)");
    let dir = root.join("start");
    let mut first = start(&dir, None);
    let created = first.ready;
    first.stop();
    let kp = start(&dir, None);
    let unlock = unlock_ms(&kp.log()).unwrap_or(0);
    let ready_ms = kp.ready.as_secs_f64() * 1000.0;
    r.row(
        "unlock (Argon2id at the default ~500 ms calibration)",
        (
            format!("{unlock} ms (from the server log)"),
            format!(
                "vault creation incl. calibration: {:.0} ms",
                created.as_secs_f64() * 1000.0
            ),
        ),
        "",
        ("", None),
    );
    r.row(
        "cold start: spawn to first /healthz 200",
        (
            format!(
                "{ready_ms:.0} ms = unlock + {:.0} ms",
                ready_ms - unlock as f64
            ),
            String::new(),
        ),
        "",
        ("", None),
    );
    let size = std::fs::metadata(bin()).map(|m| m.len()).unwrap_or(0);
    r.row(
        "binary size (target/release/keyport)",
        (mb(size), String::new()),
        "",
        ("≤ 20 MB", Some(size <= BINARY_GOAL)),
    );
    std::thread::sleep(Duration::from_millis(500));
    rss(s, w, r, &kp);
}

/// keyport's memory idle, after the unlock, and under credential-read load.
fn rss(s: &Settings, w: &Wrk, r: &mut Report, kp: &Server) {
    let pid = pid(kp);
    let idle = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");
    let integration = bearer_integration(kp, "http://127.0.0.1:9");
    let id = connect(kp, &integration, "alice", "ghp_benchmark_token");
    let cred = Target::get(&format!(
        "{}/api/v1/connectedAccounts/{id}/credentials",
        kp.url
    ))
    .key(&kp.admin);
    let (f, peak) = peak_rss(pid, Duration::from_millis(50), || {
        w.run("rss-credentials", &cred, s.load(s.connections))
    });
    let after = rss_kib(pid, "VmRSS:");
    r.row(
        "RSS (VmRSS)",
        (
            format!(
                "idle {}; under credential-read load ({:.0} req/s) peak {}, after {}",
                mb_kib(idle),
                f.rps(),
                mb_kib(peak),
                mb_kib(after)
            ),
            format!("VmHWM after unlock: {}", mb_kib(hwm)),
        ),
        "",
        ("", None),
    );
}
