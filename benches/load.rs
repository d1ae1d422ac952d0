//! keyport measured against the limits of this machine, as ratios taken in one run.
//!
//! `benches/run.sh` (or `cargo bench --bench load`) starts the release `keyport` binary on
//! 127.0.0.1 with throwaway data dirs and measures, with Debian's `wrk` as the load
//! generator and each figure against a reference on the same machine at the same moment:
//! the credential read and get-by-id against `/healthz`; the proxy against calling the same
//! local upstream (actix-web in this process, as fast as a static route) directly;
//! `keyport_proxy` through MCP (`/mcp` and `keyport mcp serve`) against the same call
//! through the API; the proxy with the audit log on against off; 1,000
//! concurrent proxied calls to an upstream that answers after 1 s, with keyport's memory;
//! 10,000 idle keep-alive connections; the access log's cost; a token refresh under 500
//! concurrent users against a counting token endpoint; reads in a 100,000-connection
//! database against a 100-connection one; start-up, size and memory; the credential read
//! and the proxy on PostgreSQL against SQLite, and with three instances on one PostgreSQL
//! database against one (when `LOAD_DATABASE_URL` names a server). Every run is bounded
//! in time, and every server listens on a loopback address.
//!
//! `cargo test --all-targets` also runs this binary (without `--bench`): a smoke run that
//! needs no wrk and takes a few seconds: the upstreams, one proxied call through each (and
//! through both MCP transports), a
//! few idle connections held, and the parsing of a wrk report. Sections can be chosen by
//! name: `cargo bench --bench load -- read burst`. Knobs (environment): `LOAD_SECS` per wrk
//! run (2), `LOAD_ROUNDS` per side of a comparison (3), `LOAD_CONNECTIONS` (64),
//! `LOAD_THREADS` (2), `LOAD_BURST` (1000), `LOAD_BURST_SECS` (10), `LOAD_IDLE` (10000),
//! `LOAD_CLIENTS` creating rows (8), `LOAD_ROWS` (100000), `LOAD_ENTITIES` (10000),
//! `LOAD_CREATE_SECS` (1200, a cap on the bulk create), `LOAD_OUT`
//! (`target/bench/load.md`), `KEYPORT_BIN` (the binary to measure), `WRK` (the wrk to use),
//! `LOAD_DATABASE_URL` (a PostgreSQL server for the `cluster` section; `benches/run.sh`
//! starts one).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark program: any failure aborts the run with its message"
)]
#![expect(clippy::disallowed_methods, reason = "a benchmark times real requests")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::agent;
use common::idp::{oauth_connection, testidp_integration, write_testidp};
use common::stand_in::{Upstream as StandIn, reply};
use harness::{Settings, bin, env_num, get_ok, raise_nofile, start};
use report::{Report, loadavg, machine};
use wrk::{Figures, Wrk};

// The test kit (launcher, client, stand-in servers, testidp), shared with tests/it.
#[path = "../tests/it/common/mod.rs"]
#[expect(
    dead_code,
    unused_imports,
    reason = "the bench uses part of the test kit"
)]
mod common;
// The program's parts live beside it in benches/load/ (a directory, so Cargo does not take
// them for benchmarks of their own).
#[path = "load/audit.rs"]
mod audit;
#[path = "load/cluster.rs"]
mod cluster;
#[path = "load/floor.rs"]
mod floor;
#[path = "load/harness.rs"]
mod harness;
#[path = "load/idle.rs"]
mod idle;
#[path = "load/mcp.rs"]
mod mcp;
#[path = "load/plane.rs"]
mod plane;
#[path = "load/report.rs"]
mod report;
#[path = "load/scale.rs"]
mod scale;
#[path = "load/upstream.rs"]
mod upstream;
#[path = "load/wrk.rs"]
mod wrk;

/// Concurrent users of one expired token.
const CONTENDERS: usize = 500;
/// Simulated provider latency of the token endpoint's refresh answer.
const REFRESH_DELAY: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------
// One expired OAuth2 token, 500 concurrent users

/// A token endpoint that issues a one-second token at the code exchange and answers each
/// refresh `REFRESH_DELAY` late with a fresh one-hour token; counts the refreshes.
fn token_endpoint(refreshes: Arc<AtomicUsize>) -> StandIn {
    StandIn::unrecorded(move |request| {
        let body = if request.form().get("grant_type").map(String::as_str) == Some("refresh_token")
        {
            let n = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(REFRESH_DELAY);
            format!(
                r#"{{"access_token":"at-{n}","refresh_token":"rt-{n}","token_type":"Bearer","expires_in":3600}}"#
            )
        } else {
            r#"{"access_token":"at-0","refresh_token":"rt-0","token_type":"Bearer","expires_in":1}"#
                .to_string()
        };
        reply(200, "application/json", body)
    })
}

/// What the contenders got.
struct Contention {
    ok: usize,
    tokens: BTreeSet<String>,
    /// Per request, sorted.
    latencies: Vec<u64>,
    all_served: Duration,
}

/// `CONTENDERS` clients read `url` at the same moment, each on a connection opened before.
fn contend(url: &str, key: &str) -> Contention {
    let gate = Arc::new(Barrier::new(CONTENDERS + 1));
    let mut handles = Vec::new();
    for _ in 0..CONTENDERS {
        let (gate, url, key) = (Arc::clone(&gate), url.to_string(), key.to_string());
        let contender = move || {
            // Open the connection before the gate, so all 500 requests are in flight at once.
            let agent = agent();
            let _ = get_ok(&agent, &url.replace("/credentials", ""), Some(&key));
            gate.wait();
            let t = Instant::now();
            let (status, body) = match agent.get(&url).header("x-api-key", &key).call() {
                Ok(mut resp) => (
                    resp.status().as_u16(),
                    resp.body_mut().read_to_string().unwrap_or_default(),
                ),
                Err(e) => (0, e.to_string()),
            };
            let token = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["credentials"]["access_token"].as_str().map(String::from));
            (status, token, t.elapsed())
        };
        let thread = std::thread::Builder::new().stack_size(256 * 1024);
        handles.push(thread.spawn(contender).unwrap());
    }
    gate.wait();
    let began = Instant::now();
    let mut seen = Contention {
        ok: 0,
        tokens: BTreeSet::new(),
        latencies: Vec::new(),
        all_served: Duration::ZERO,
    };
    for h in handles {
        let (status, token, took) = h.join().unwrap();
        seen.ok += usize::from(status == 200);
        seen.tokens.insert(token.unwrap_or_default());
        seen.latencies.push(took.as_micros() as u64);
    }
    seen.all_served = began.elapsed();
    seen.latencies.sort_unstable();
    seen
}

fn section_refresh(r: &mut Report, root: &Path) {
    println!("== refresh under contention");
    let refreshes = Arc::new(AtomicUsize::new(0));
    let tokens = token_endpoint(Arc::clone(&refreshes));
    let dir = root.join("refresh");
    write_testidp(&dir);
    let kp = start(&dir, Some("0"));
    let integration = testidp_integration(&kp, &tokens.base, json!({}));
    let id = oauth_connection(&kp, &integration, "alice", "abc");
    // The access token lives one second; wait until it is past its expiry.
    std::thread::sleep(Duration::from_millis(2_100));
    let refreshes_before = refreshes.load(Ordering::SeqCst);
    let url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let seen = contend(&url, &kp.admin);
    let calls = refreshes.load(Ordering::SeqCst) - refreshes_before;
    let met = calls == 1 && seen.ok == CONTENDERS && seen.tokens.len() == 1;
    r.row(
        &format!("refresh: {CONTENDERS} concurrent reads of an expired token"),
        (
            format!(
                "{calls} token-endpoint call(s); {}/{CONTENDERS} served (200) in {:.0} ms; {} distinct token(s)",
                seen.ok,
                seen.all_served.as_secs_f64() * 1000.0,
                seen.tokens.len()
            ),
            format!(
                "endpoint answers after {} ms; p50 {:.0} ms, max {:.0} ms per request",
                REFRESH_DELAY.as_millis(),
                seen.latencies[seen.latencies.len() / 2] as f64 / 1000.0,
                *seen.latencies.last().unwrap() as f64 / 1000.0
            ),
        ),
        "",
        ("exactly 1 call", Some(met)),
    );
}

// ---------------------------------------------------------------------------------------
// The run

/// The forwarder process answers a proxied POST with the upstream's body.
fn floor_smoke(upstream: &str) {
    let child = floor::Child::start(upstream);
    let answer = agent()
        .post(format!("{}/api/v2/actions/proxy", child.base))
        .send("{}")
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert_eq!(answer, upstream::BODY);
}

/// `cargo test --all-targets`: every part of the bench but wrk, briefly.
fn smoke() {
    let open = raise_nofile();
    let tmp = tempfile::tempdir().unwrap();
    for delay in [Duration::ZERO, Duration::from_millis(50)] {
        let upstream = upstream::Upstream::answering(delay);
        let kp = start(
            &tmp.path().join(format!("smoke-{}", delay.as_millis())),
            Some("0"),
        );
        let integration = harness::bearer_integration(&kp, &upstream.base);
        let id = harness::connect(&kp, &integration, "alice", "ghp_smoke");
        let (status, answer) =
            kp.proxy(json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"}));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["data"],
            serde_json::from_str::<Value>(upstream::BODY).unwrap()
        );
        if delay.is_zero() {
            mcp::smoke(&kp, &id, tmp.path());
            floor_smoke(&upstream.base);
            let addr = kp.url.trim_start_matches("http://").parse().unwrap();
            let held = idle::hold(addr, 20, Duration::from_millis(10), 5, || {});
            assert_eq!(
                (held.opened, held.still_open, held.sample_ok),
                (20, 20, 4),
                "{held:?}"
            );
        }
    }
    let report = "Running 1s test @ http://127.0.0.1:1/healthz\n\
        wrk-figures requests=1200 duration_us=1000000 connect=0 read=0 write=0 status=200 timeout=1\n\
        wrk-histogram 100:500 250:100 300:499 900:1\n";
    let f = Figures::parse(report).expect("the wrk lines");
    assert_eq!((f.requests, f.bad_status, f.socket_errors), (1200, 200, 1));
    assert!((f.rps() - 1000.0).abs() < 1e-6);
    let side_by_side = Figures::together(&[f.clone(), f.clone()]);
    assert!((side_by_side.rps() - 2000.0).abs() < 1e-6);
    let twice = Figures::merge(&[f.clone(), f]);
    assert_eq!(
        (twice.requests, twice.p50_us, twice.p99_us),
        (2400, 250.0, 300.0)
    );
    assert_eq!(
        (report::count(999), report::count(100_000)),
        ("999".into(), "100,000".into())
    );
    assert_eq!(wrk::lua_str("a\"b\\\n"), "\"a\\\"b\\\\\\010\"");
    println!(
        "load: smoke run ok (open files {open}); run benches/run.sh or `cargo bench --bench load` to measure"
    );
}

fn settings(args: &[String]) -> Settings {
    Settings {
        secs: env_num("LOAD_SECS", 2),
        rounds: env_num("LOAD_ROUNDS", 3) as usize,
        connections: env_num("LOAD_CONNECTIONS", 64) as usize,
        threads: env_num("LOAD_THREADS", 2) as usize,
        burst: env_num("LOAD_BURST", 1_000) as usize,
        burst_secs: env_num("LOAD_BURST_SECS", 10),
        idle: env_num("LOAD_IDLE", 10_000) as usize,
        creators: env_num("LOAD_CLIENTS", 8) as usize,
        rows: env_num("LOAD_ROWS", 100_000) as usize,
        entities: env_num("LOAD_ENTITIES", 10_000) as usize,
        create_cap: Duration::from_secs(env_num("LOAD_CREATE_SECS", 1_200)),
        sections: args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .cloned()
            .collect(),
    }
}

fn main() {
    if let Ok(target) = std::env::var(floor::ENV) {
        floor::serve(&target, &format!("Bearer {}", plane::TOKEN));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        smoke();
        return;
    }
    let s = settings(&args);
    let open = raise_nofile();
    let bin = bin();
    assert!(bin.exists(), "{} does not exist", bin.display());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let reports = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/wrk");
    let _ = std::fs::remove_dir_all(&reports);
    let w = Wrk::find(&root.join("wrk"), &reports)
        .expect("no wrk: install Debian's `wrk` (benches/run.sh does) or set WRK");
    let machine = machine();
    println!("{machine}\nbinary: {}; open files: {open}", bin.display());
    let mut r = Report::default();
    let began = Instant::now();
    type Section = fn(&Settings, &Wrk, &mut Report, &Path);
    let sections: [(&str, Section); 11] = [
        ("read", plane::section_read),
        ("proxy", plane::section_proxy),
        ("mcp", mcp::section_mcp),
        ("audit", audit::section_audit),
        ("burst", plane::section_burst),
        ("idle", |s, _, r, root| plane::section_idle(s, r, root)),
        ("log", plane::section_log),
        ("refresh", |_, _, r, root| section_refresh(r, root)),
        ("scale", scale::section_scale),
        ("start", scale::section_start),
        ("cluster", cluster::section_cluster),
    ];
    for (name, section) in sections {
        if s.wants(name) {
            section(&s, &w, &mut r, root);
        }
    }
    r.note(format!(
        "load average at the end {}; the whole run took {:.0} s; wrk's reports are in target/bench/wrk/",
        loadavg(),
        began.elapsed().as_secs_f64()
    ));
    let command = std::env::var("LOAD_COMMAND").unwrap_or_else(|_| "benches/run.sh".into());
    let markdown = r.markdown(&machine, &command);
    let out = std::env::var_os("LOAD_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/load.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&out, &markdown).unwrap();
    println!("\n{markdown}\nwritten to {}", out.display());
}
