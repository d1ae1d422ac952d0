//! keyport measured against the limits of this machine, as ratios taken in one run.
//!
//! `benches/run.sh` (or `cargo bench --bench load`) starts the release `keyport` binary on
//! 127.0.0.1 with throwaway data dirs and measures, each against a reference on the same
//! machine at the same moment: the authorized credential read against `/healthz`, the
//! proxy against calling the same local upstream directly, a token refresh under 500
//! concurrent users against a counting token endpoint, reads in a 100,000-connection
//! database against a 100-connection one, and start-up and memory. Every load loop is
//! bounded in count and in time, and every target is a loopback address.
//!
//! `cargo test --all-targets` also runs this binary (without `--bench`): it then exits at
//! once. Sections can be chosen by name: `cargo bench --bench load -- read refresh`.
//! Knobs (environment): `LOAD_CLIENTS` (8), `LOAD_SECS` per comparison (4), `LOAD_CONNECTIONS`
//! (100000), `LOAD_ENTITIES` (10000), `LOAD_CREATE_SECS` (1200, a cap on the bulk
//! create), `LOAD_OUT` (`target/bench/load.md`), `KEYPORT_BIN` (the binary to measure).

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

use common::Server;
use common::agent;
use common::idp::{oauth_connection, testidp_integration, write_testidp};
use common::stand_in::{Upstream, reply};
use harness::{
    Request, Settings, bearer_integration, bin, compare, connect, dir_bytes, env_num, get_by_id,
    get_ok, list_by_entity, peak_rss, pid, populate, rss_kib, run_load, start,
};
use report::{Report, loadavg, machine, mib};

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
#[path = "load/harness.rs"]
mod harness;
#[path = "load/report.rs"]
mod report;

/// Concurrent users of one expired token.
const CONTENDERS: usize = 500;
/// Simulated provider latency of the token endpoint's refresh answer.
const REFRESH_DELAY: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------
// 1. Credential read against /healthz

fn section_read(s: &Settings, r: &mut Report, root: &Path) {
    println!("== credential read vs /healthz");
    let kp = start(&root.join("read"), Some("0"));
    let integration = bearer_integration(&kp, "http://127.0.0.1:9");
    let id = connect(&kp, &integration, "alice", "ghp_benchmark_token");
    let health_url = format!("{}/healthz", kp.url);
    let cred_url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let key = kp.admin.clone();
    let health: Arc<Request> = Arc::new(move |a, _| get_ok(a, &health_url, None));
    let cred: Arc<Request> = Arc::new(move |a, _| get_ok(a, &cred_url, Some(&key)));
    let ((c, h), peak) = peak_rss(pid(&kp), Duration::from_millis(100), || {
        compare(s, cred, health)
    });
    r.compared(
        &format!("credential read, {} clients", s.clients),
        (&c, &h),
        "/healthz",
        "≥0.6×",
    );
    r.note(format!(
        "loaded RSS during the credential-read run (KDF at the floor): peak {}",
        mib(peak * 1024)
    ));
}

// ---------------------------------------------------------------------------------------
// 2. Proxy against the same upstream called directly

fn section_proxy(s: &Settings, r: &mut Report, root: &Path) {
    println!("== proxy vs direct");
    let upstream = Upstream::unrecorded(|_| reply(200, "application/json", r#"{"ok":true}"#));
    let kp = start(&root.join("proxy"), Some("0"));
    let integration = bearer_integration(&kp, &upstream.base);
    let id = connect(&kp, &integration, "alice", "ghp_benchmark_token");
    let (status, answer) =
        kp.proxy(json!({"connectedAccountId": id, "endpoint": "/ping", "method": "GET"}));
    assert_eq!(status, 200, "proxy answered {status}: {answer}");
    let direct_url = format!("{}/ping", upstream.base);
    let direct: Arc<Request> = Arc::new(move |a, _| {
        let t = a
            .get(&direct_url)
            .header("authorization", "Bearer ghp_benchmark_token")
            .call();
        match t {
            Ok(mut resp) => {
                let _ = resp.body_mut().read_to_vec();
                resp.status() == 200
            }
            Err(_) => false,
        }
    });
    let proxy_url = format!("{}/api/v2/actions/proxy", kp.url);
    let key = kp.admin.clone();
    let body = json!({"connectedAccountId": id, "endpoint": "/ping", "method": "GET"}).to_string();
    let proxied: Arc<Request> = Arc::new(move |a, _| {
        match a
            .post(&proxy_url)
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .send(body.as_str())
        {
            Ok(mut resp) => {
                let _ = resp.body_mut().read_to_vec();
                resp.status() == 200
            }
            Err(_) => false,
        }
    });
    let (p, d) = compare(s, proxied, direct);
    r.compared(
        &format!("proxy GET, {} clients", s.clients),
        (&p, &d),
        "direct",
        "≥0.45×",
    );
}

// ---------------------------------------------------------------------------------------
// 3. One expired OAuth2 token, 500 concurrent users

/// A token endpoint that issues a one-second token at the code exchange and answers each
/// refresh `REFRESH_DELAY` late with a fresh one-hour token; counts the refreshes.
fn token_endpoint(refreshes: Arc<AtomicUsize>) -> Upstream {
    Upstream::unrecorded(move |request| {
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
    r.row(
        &format!("refresh: {CONTENDERS} concurrent reads of an expired token"),
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
        "",
        "exactly 1 call",
    );
    r.set_met(
        if calls == 1 && seen.ok == CONTENDERS && seen.tokens.len() == 1 {
            "yes"
        } else {
            "**no**"
        },
    );
}

// ---------------------------------------------------------------------------------------
// 4. Scale: 100,000 connections over 10,000 entities against 100 over 10

fn section_scale(s: &Settings, r: &mut Report, root: &Path) {
    println!(
        "== scale: {} connections over {} entities",
        s.connections, s.entities
    );
    let small_entities = 10usize;
    let small_count = 100usize;
    let (small, small_ids, _) = populated(s, &root.join("small"), small_count, small_entities);
    let big_dir = root.join("big");
    let (big, big_ids, took) = populated(s, &big_dir, s.connections, s.entities);
    let made = big_ids.len();
    r.row(
        &format!(
            "create {} connections over {} entities, {} clients",
            s.connections, s.entities, s.clients
        ),
        format!(
            "{made} in {:.1} s ({:.0}/s)",
            took.as_secs_f64(),
            made as f64 / took.as_secs_f64()
        ),
        String::new(),
        "",
        "",
    );
    if made < s.connections {
        r.note(format!(
            "the bulk create stopped at its {} s cap after {made} connections",
            s.create_cap.as_secs()
        ));
    }
    // Entities actually populated (all of them unless the cap cut the create short).
    let big_entities = s.entities.min(made.max(1));

    let (g_big, g_small) = compare(
        s,
        get_by_id(&big, big_ids.clone()),
        get_by_id(&small, small_ids),
    );
    r.compared(
        &format!("get by id, {made} vs {small_count} connections"),
        (&g_big, &g_small),
        &small_count.to_string(),
        "≥0.9×",
    );
    let (l_big, l_small) = compare(
        s,
        list_by_entity(&big, big_entities),
        list_by_entity(&small, small_entities),
    );
    r.compared(
        &format!(
            "list by entity ({} each), {made} vs {small_count}",
            made / big_entities
        ),
        (&l_big, &l_small),
        &small_count.to_string(),
        "≥0.9×",
    );
    drop(small);
    size_and_restart(r, big, &big_dir, made);
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
    let (ids, took) = populate(&kp, &integration, count, entities, s.clients, s.create_cap);
    (kp, ids, took)
}

/// The database size after a clean stop, and the time to restart with `made` connections.
fn size_and_restart(r: &mut Report, mut big: Server, big_dir: &Path, made: usize) {
    big.stop();
    let bytes = dir_bytes(big_dir);
    r.row(
        "database size (after the shutdown checkpoint)",
        format!(
            "{} = {:.0} bytes per connection",
            mib(bytes),
            bytes as f64 / made.max(1) as f64
        ),
        String::new(),
        "",
        "",
    );
    let restarted = start(big_dir, Some("0"));
    r.row(
        &format!("restart with {made} connections, to first /healthz"),
        format!(
            "{:.0} ms (KDF at the floor)",
            restarted.ready.as_secs_f64() * 1000.0
        ),
        String::new(),
        "",
        "",
    );
}

// ---------------------------------------------------------------------------------------
// 5. Start and size, at the default KDF calibration

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

fn section_start(s: &Settings, r: &mut Report, root: &Path) {
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
        format!("{unlock} ms (from the server log)"),
        format!(
            "vault creation incl. calibration: {:.0} ms",
            created.as_secs_f64() * 1000.0
        ),
        "",
        "",
    );
    r.row(
        "cold start: spawn to first /healthz 200",
        format!(
            "{ready_ms:.0} ms = unlock + {:.0} ms",
            ready_ms - unlock as f64
        ),
        String::new(),
        "",
        "",
    );
    let size = std::fs::metadata(bin()).map(|m| m.len()).unwrap_or(0);
    r.row(
        "binary size (target/release/keyport)",
        mib(size),
        String::new(),
        "",
        "",
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = pid(&kp);
    let idle = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");
    let integration = bearer_integration(&kp, "http://127.0.0.1:9");
    let id = connect(&kp, &integration, "alice", "ghp_benchmark_token");
    let url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let key = kp.admin.clone();
    let ((stats, _), peak) = peak_rss(pid, Duration::from_millis(50), || {
        run_load(
            s.clients,
            s.phase / 2,
            Arc::new(move |a, _| get_ok(a, &url, Some(&key))),
        )
    });
    let after = rss_kib(pid, "VmRSS:");
    r.row(
        "RSS (VmRSS)",
        format!(
            "idle {}; under credential-read load ({:.0} req/s) peak {}, after {}",
            mib(idle * 1024),
            stats.rps(),
            mib(peak * 1024),
            mib(after * 1024)
        ),
        format!("VmHWM after unlock: {}", mib(hwm * 1024)),
        "",
        "",
    );
}

// ---------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!(
            "load: skipped (not run under `cargo bench`); run benches/run.sh or `cargo bench --bench load`"
        );
        return;
    }
    let settings = Settings {
        clients: env_num("LOAD_CLIENTS", 8) as usize,
        phase: Duration::from_secs(env_num("LOAD_SECS", 4)),
        connections: env_num("LOAD_CONNECTIONS", 100_000) as usize,
        entities: env_num("LOAD_ENTITIES", 10_000) as usize,
        create_cap: Duration::from_secs(env_num("LOAD_CREATE_SECS", 1_200)),
        sections: args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .cloned()
            .collect(),
    };
    let bin = bin();
    assert!(bin.exists(), "{} does not exist", bin.display());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let machine = machine();
    println!("{machine}\nbinary: {}", bin.display());
    let mut report = Report::default();
    let began = Instant::now();
    if settings.wants("read") {
        section_read(&settings, &mut report, root);
    }
    if settings.wants("proxy") {
        section_proxy(&settings, &mut report, root);
    }
    if settings.wants("refresh") {
        section_refresh(&mut report, root);
    }
    if settings.wants("scale") {
        section_scale(&settings, &mut report, root);
    }
    if settings.wants("start") {
        section_start(&settings, &mut report, root);
    }
    report.note(format!(
        "load average at the end {}; the whole run took {:.0} s",
        loadavg(),
        began.elapsed().as_secs_f64()
    ));
    let command = std::env::var("LOAD_COMMAND").unwrap_or_else(|_| "benches/run.sh".into());
    let markdown = report.markdown(&machine, &command);
    let out = std::env::var_os("LOAD_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/load.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&out, &markdown).unwrap();
    println!("\n{markdown}\nwritten to {}", out.display());
}
