//! keyport on PostgreSQL, one instance and three, measured with wrk against keyport on
//! SQLite in the same run: the credential read (`GET /api/v1/connectedAccounts/{id}/
//! credentials`, admin key) and the proxy (`POST /api/v2/actions/proxy`, a GET to the local
//! stand-in upstream), (1) on PostgreSQL against SQLite, one instance each, alternated
//! round by round; (2) on PostgreSQL, three `keyport serve` instances on one database (one
//! wrk per instance, run at the same time, with a third of the connections each, their
//! answers added up) against one of them alone, alternated too. Every instance has its own
//! data dir (`server.url`, `admin.key`) and the same `KEYPORT_DATABASE_URL`; the second and
//! third find the first one's `admin.key` in theirs, so one key serves all three.
//!
//! Both requests write an audit record, queued to a writer thread per instance (up to 4,096
//! waiting before a request waits), which on PostgreSQL appends under one lock for all
//! instances. So that what one run queued is neither written during the next nor left out,
//! every server's queue is written out before each run, and each run's figure counts, after
//! wrk's window, the wait until the records it queued are written.
//!
//! The PostgreSQL server is the one `LOAD_DATABASE_URL` names (a role that may create
//! databases; `benches/run.sh` starts a throw-away cluster and sets it); the section makes
//! a database of its own there and drops it after. Without it the section is skipped.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::Launch;
use crate::common::Server;
use crate::common::database::Database;
use crate::harness::{Settings, bearer_integration, bin, connect};
use crate::report::{Goal, Report};
use crate::upstream::Upstream;
use crate::wrk::{Figures, Load, Target, Wrk};

/// The PostgreSQL server the section may create its database on.
pub const DATABASE_ENV: &str = "LOAD_DATABASE_URL";
/// Instances sharing the database in the second comparison.
const INSTANCES: usize = 3;

/// `keyport serve` in `dir` at the default log level, on `database` (SQLite when `None`).
fn serve(dir: &Path, database: Option<&str>) -> Server {
    let mut launch = Launch {
        bin: bin(),
        kdf_ms: Some("0".into()),
        ..Launch::default()
    }
    .log(None);
    if let Some(url) = database {
        launch = launch.env("KEYPORT_DATABASE_URL", url);
    }
    launch.start_in(dir).unwrap_or_else(|out| {
        panic!(
            "keyport exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The two requests measured, on `kp` for connection `id`: the credential read, the proxy.
fn targets(kp: &Server, id: &str) -> [Target; 2] {
    let body = json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"});
    let (status, answer) = kp.proxy(body.clone());
    assert_eq!(status, 200, "proxy on {}: {answer}", kp.url);
    assert_eq!(answer["status"], 200, "the upstream answered: {answer}");
    let credentials = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    [
        Target::get(&credentials).key(&kp.admin),
        Target::get(&format!("{}/api/v2/actions/proxy", kp.url))
            .key(&kp.admin)
            .post_json(&body.to_string()),
    ]
}

/// `INSTANCES` servers on `url`, the first one's admin key copied into the others' dirs
/// before they start.
fn instances(root: &Path, url: &str) -> Vec<Server> {
    let first = serve(&root.join("cluster-pg-1"), Some(url));
    let mut all = vec![first];
    for n in 2..=INSTANCES {
        let dir = root.join(format!("cluster-pg-{n}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("a data dir");
        std::fs::copy(all[0].dir.join("admin.key"), dir.join("admin.key")).expect("admin.key");
        let kp = serve(&dir, Some(url));
        assert_eq!(
            kp.admin, all[0].admin,
            "instance {n} took the first one's key"
        );
        all.push(kp);
    }
    all
}

/// One wrk per server of `side` at the same time, `load`'s connections and threads shared
/// out among them; their answers added up.
fn spread(w: &Wrk, name: &str, side: &Side, load: Load) -> Figures {
    let n = side.len();
    let parts: Vec<Figures> = std::thread::scope(|scope| {
        let running: Vec<_> = side
            .iter()
            .enumerate()
            .map(|(i, (_, target))| {
                let share = Load {
                    connections: load.connections / n + usize::from(i < load.connections % n),
                    threads: (load.threads / n).max(1),
                    ..load
                };
                scope.spawn(move || w.run(&format!("{name}-{}", i + 1), target, share))
            })
            .collect();
        running.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Figures::together(&parts)
}

/// The server's version and durability settings, e.g. `15.18 (Debian 15.18-0+deb12u1),
/// fsync on, synchronous_commit on`.
fn server_settings(url: &str) -> String {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).ok()?;
        let mut shown = Vec::new();
        for name in ["server_version", "fsync", "synchronous_commit"] {
            let row = client.query_one(&format!("SHOW {name}"), &[]).ok()?;
            let value: String = row.try_get(0).ok()?;
            shown.push(match name {
                "server_version" => value,
                _ => format!("{name} {value}"),
            });
        }
        Some(shown.join(", "))
    })
    .join()
    .ok()
    .flatten()
    .unwrap_or_else(|| "(settings unknown)".into())
}

pub fn section_cluster(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    let Some(server) = std::env::var(DATABASE_ENV).ok().filter(|u| !u.is_empty()) else {
        let why = format!(
            "cluster: skipped, {DATABASE_ENV} names no PostgreSQL server (benches/run.sh starts one)"
        );
        println!("== {why}");
        r.note(why);
        return;
    };
    println!("== PostgreSQL vs SQLite, and 3 instances on one PostgreSQL database vs 1");
    let upstream = Upstream::answering(Duration::ZERO);
    // Declared before the servers, so dropped after them.
    let database = Database::create(&server);
    let sqlite = serve(&root.join("cluster-sqlite"), None);
    let pg = instances(root, database.url());
    let on = |kp: &Server| {
        let integration = bearer_integration(kp, &upstream.base);
        connect(kp, &integration, "alice", "ghp_cluster_bench")
    };
    let sqlite_id = on(&sqlite);
    let pg_id = on(&pg[0]);
    let lite = targets(&sqlite, &sqlite_id);
    let each: Vec<[Target; 2]> = pg.iter().map(|kp| targets(kp, &pg_id)).collect();
    let everyone: Vec<&Server> = std::iter::once(&sqlite).chain(&pg).collect();
    let bench = Bench {
        w,
        everyone: &everyone,
        load: s.load(s.connections),
        rounds: s.rounds,
    };
    let one = |k: usize| vec![(&pg[0], &each[0][k])];
    let all = |k: usize| pg.iter().zip(&each).map(|(kp, t)| (kp, &t[k])).collect();
    let sides: [(&str, Side); 8] = [
        ("sqlite-credentials", vec![(&sqlite, &lite[0])]),
        ("pg-credentials", one(0)),
        ("sqlite-proxy", vec![(&sqlite, &lite[1])]),
        ("pg-proxy", one(1)),
        ("pg1-credentials", one(0)),
        (PG_ALL[0], all(0)),
        ("pg1-proxy", one(1)),
        (PG_ALL[1], all(1)),
    ];
    let (f, drained) = bench.alternate(&sides[..4]);
    let c = s.connections;
    let what = ["credential read", "proxy GET → local upstream"];
    for k in 0..2 {
        r.compared(
            &format!("{} on PostgreSQL, 1 instance, {c} connections", what[k]),
            (&f[2 * k + 1], &f[2 * k]),
            "the same on SQLite",
            Goal::default(),
        );
    }
    let (g, more) = bench.alternate(&sides[4..]);
    for k in 0..2 {
        r.compared(
            &format!(
                "{} on PostgreSQL, {INSTANCES} instances on one database ({c} connections spread)",
                what[k]
            ),
            (&g[2 * k + 1], &g[2 * k]),
            "1 instance, same database",
            Goal::default(),
        );
    }
    notes(r, &server, &pg[INSTANCES - 1], bench.load);
    let names = sides.iter().map(|(name, _)| *name);
    let waits = names.zip(drained.iter().chain(&more));
    let waits: Vec<String> = waits
        .map(|(n, d)| format!("{n} {:.2} s", d.as_secs_f64()))
        .collect();
    r.note(format!(
        "cluster: each run's figure counts, after wrk's window, the wait until every audit record it queued was written (an admin read of the audit log on each instance, which waits for its writer): {}",
        waits.join(", ")
    ));
}

/// The names of the runs with all instances at once.
const PG_ALL: [&str; 2] = ["pg3-credentials", "pg3-proxy"];

/// The servers one side of a comparison sends its load to, with the request for each.
type Side<'a> = Vec<(&'a Server, &'a Target)>;

/// How the section runs wrk.
struct Bench<'a> {
    w: &'a Wrk,
    /// Every server of the section, settled before each run.
    everyone: &'a [&'a Server],
    load: Load,
    rounds: usize,
}

impl Bench<'_> {
    /// The sides in turn, `rounds` times over (a b c … a b c …), each run on quiet servers;
    /// the merged figures of each side, and its summed waits for the audit writers.
    fn alternate(&self, sides: &[(&str, Side)]) -> (Vec<Figures>, Vec<Duration>) {
        let mut runs = vec![Vec::new(); sides.len()];
        let mut waits = vec![Duration::ZERO; sides.len()];
        for _ in 0..self.rounds {
            for (i, (name, side)) in sides.iter().enumerate() {
                settle(self.everyone);
                let mut f = match side.as_slice() {
                    [(_, target)] => self.w.run(name, target, self.load),
                    _ => spread(self.w, name, side, self.load),
                };
                let began = Instant::now();
                let servers: Vec<&Server> = side.iter().map(|(kp, _)| *kp).collect();
                settle(&servers);
                let waited = began.elapsed();
                f.secs += waited.as_secs_f64();
                f.rounds = vec![f.rps()];
                waits[i] += waited;
                runs[i].push(f);
            }
        }
        (runs.iter().map(|r| Figures::merge(r)).collect(), waits)
    }
}

/// Returns once every audit record each server queued is written: an admin read of the
/// audit log waits for its writer, up to 5 s, so a read that took nearly that is repeated.
fn settle(servers: &[&Server]) {
    for kp in servers {
        loop {
            let began = Instant::now();
            kp.ok("GET", "/api/v1/audit?limit=1", None);
            if began.elapsed() < Duration::from_millis(4_500) {
                break;
            }
        }
    }
}

fn notes(r: &mut Report, server: &str, kp: &Server, load: Load) {
    let began = Instant::now();
    let verdict = kp.ok("GET", "/api/v1/audit/verify", None);
    assert_eq!(verdict["intact"], true, "{verdict}");
    r.note(format!(
        "cluster: PostgreSQL {} (127.0.0.1, this machine); keyport's pool holds 8 connections per instance; after the runs the one audit chain the {INSTANCES} instances wrote ({} records) verified intact in {:.1} s",
        server_settings(server),
        verdict["records"],
        began.elapsed().as_secs_f64()
    ));
    r.note(format!(
        "cluster: the {INSTANCES} instances and PostgreSQL share this machine's cores with wrk, so the {INSTANCES}-instance rows measure what running several instances costs (more processes, cache invalidation, one audit chain under one lock), not scale-out; 1 instance is wrk -t{} -c{}, {INSTANCES} instances are {INSTANCES} wrk at once, -t{} and a third of the connections each",
        load.threads,
        load.connections,
        (load.threads / INSTANCES).max(1)
    ));
}
