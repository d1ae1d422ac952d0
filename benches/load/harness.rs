//! The bench's machinery: `keyport serve` started by the test kit's launcher with the
//! bench's settings (the binary measured, the log level), the calls the bench makes, and
//! the load generator (client threads with keep-alive agents, fixed-duration phases,
//! latency percentiles).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::client::{agent, call_with};
use crate::common::{Launch, Server};

/// Requests per client and phase at most, whatever the duration.
pub const MAX_PER_CLIENT: usize = 2_000_000;

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Settings {
    pub clients: usize,
    pub phase: Duration,
    pub connections: usize,
    pub entities: usize,
    pub create_cap: Duration,
    pub sections: Vec<String>,
}

impl Settings {
    pub fn wants(&self, section: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section)
    }
}

// ---------------------------------------------------------------------------------------
// keyport under test

/// The binary measured: `KEYPORT_BIN`, else the one Cargo built with the bench.
pub fn bin() -> PathBuf {
    match std::env::var_os("KEYPORT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(crate::common::bin()),
    }
}

/// Starts `keyport serve` in `dir` at keyport's default log level. `kdf_ms: None` leaves
/// `KEYPORT_KDF_MS` unset (the default calibration).
pub fn start(dir: &Path, kdf_ms: Option<&str>) -> Server {
    let launch = Launch {
        bin: bin(),
        kdf_ms: kdf_ms.map(Into::into),
        ..Launch::default()
    };
    launch.log(None).start_in(dir).unwrap_or_else(|out| {
        panic!(
            "keyport exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The running server's process id.
pub fn pid(kp: &Server) -> u32 {
    kp.pid().expect("keyport runs")
}

/// A BEARER_TOKEN integration whose API base URL is `base_url`.
pub fn bearer_integration(kp: &Server, base_url: &str) -> String {
    let created = kp.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN",
        "authConfig": {"base_url": base_url}}));
    created["id"].as_str().unwrap().to_string()
}

pub fn connect(kp: &Server, integration: &str, entity: &str, token: &str) -> String {
    let created = kp.create_connection(json!({"integrationId": integration, "userUuid": entity,
        "data": {"token": token}}));
    created["connectedAccountId"].as_str().unwrap().to_string()
}

pub fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `work` while sampling `pid`'s `VmRSS` every `every`; its result and the peak (KiB).
pub fn peak_rss<T>(pid: u32, every: Duration, work: impl FnOnce() -> T) -> (T, u64) {
    let peak = AtomicU64::new(0);
    let sampling = AtomicBool::new(true);
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(every);
            }
        });
        let out = work();
        sampling.store(false, Ordering::Relaxed);
        out
    });
    (out, peak.load(Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------
// Load generation

/// One request: `true` when it got the answer it wanted.
pub type Request = dyn Fn(&ureq::Agent, &mut u64) -> bool + Send + Sync;

#[derive(Clone, Copy, Default)]
pub struct Stats {
    pub ok: usize,
    pub failed: usize,
    pub secs: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    pub fn merge(runs: &[Stats], latencies: &mut [u64]) -> Stats {
        latencies.sort_unstable();
        let pick = |q: f64| -> u64 {
            if latencies.is_empty() {
                return 0;
            }
            let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies[i]
        };
        Stats {
            ok: runs.iter().map(|s| s.ok).sum(),
            failed: runs.iter().map(|s| s.failed).sum(),
            secs: runs.iter().map(|s| s.secs).sum(),
            p50_us: pick(0.50),
            p99_us: pick(0.99),
        }
    }
}

/// `clients` threads, each with its own keep-alive agent, send `request` back to back for
/// `phase` (and at most `MAX_PER_CLIENT` times each) after one untimed warm-up request.
pub fn run_load(clients: usize, phase: Duration, request: Arc<Request>) -> (Stats, Vec<u64>) {
    let start = Arc::new(Barrier::new(clients + 1));
    let mut handles = Vec::new();
    for c in 0..clients {
        let start = Arc::clone(&start);
        let request = Arc::clone(&request);
        handles.push(std::thread::spawn(move || {
            let agent = agent();
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((c as u64 + 1) << 32);
            request(&agent, &mut seed);
            start.wait();
            let began = Instant::now();
            let deadline = began + phase;
            let mut latencies = Vec::with_capacity(1 << 16);
            let (mut ok, mut failed) = (0usize, 0usize);
            while latencies.len() < MAX_PER_CLIENT {
                let t = Instant::now();
                if t >= deadline {
                    break;
                }
                if request(&agent, &mut seed) {
                    ok += 1;
                    latencies.push(t.elapsed().as_micros() as u64);
                } else {
                    failed += 1;
                    latencies.push(t.elapsed().as_micros() as u64);
                }
            }
            (ok, failed, began.elapsed(), latencies)
        }));
    }
    start.wait();
    let mut all = Vec::new();
    let (mut ok, mut failed, mut longest) = (0, 0, Duration::ZERO);
    for h in handles {
        let (o, f, d, l) = h.join().unwrap();
        ok += o;
        failed += f;
        longest = longest.max(d);
        all.extend(l);
    }
    let stats = Stats {
        ok,
        failed,
        secs: longest.as_secs_f64(),
        ..Stats::default()
    };
    (stats, all)
}

/// Alternates the phases `a` and `b` twice (a b a b) so that a burst of outside load hits
/// both alike; returns the merged figures of each.
pub fn compare(s: &Settings, a: Arc<Request>, b: Arc<Request>) -> (Stats, Stats) {
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    let half = s.phase / 2;
    for _ in 0..2 {
        let (st, l) = run_load(s.clients, half, Arc::clone(&a));
        ra.push(st);
        la.extend(l);
        let (st, l) = run_load(s.clients, half, Arc::clone(&b));
        rb.push(st);
        lb.extend(l);
    }
    (Stats::merge(&ra, &mut la), Stats::merge(&rb, &mut lb))
}

pub fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

pub fn get_ok(agent: &ureq::Agent, url: &str, key: Option<&str>) -> bool {
    let mut req = agent.get(url);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    match req.call() {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let _ = r.body_mut().read_to_vec();
            status == 200
        }
        Err(_) => false,
    }
}

/// Creates `count` connections over `entities` entities (`e0`, `e1`…) with `clients`
/// concurrent API clients; stops early at `cap`. Returns the ids and the time taken.
pub fn populate(
    kp: &Server,
    integration: &str,
    count: usize,
    entities: usize,
    clients: usize,
    cap: Duration,
) -> (Vec<String>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let began = Instant::now();
    let deadline = began + cap;
    let progress = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (next, ids, progress) = (Arc::clone(&next), Arc::clone(&ids), Arc::clone(&progress));
        let create_url = format!("{}/api/v1/connectedAccounts", kp.url);
        let (key, integration) = (kp.admin.clone(), integration.to_string());
        handles.push(std::thread::spawn(move || {
            let agent = agent();
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline {
                    break;
                }
                let body = json!({"integrationId": integration, "userUuid": format!("e{}", i % entities),
                    "data": {"token": format!("ghp_{i:012}")}});
                let (status, value) =
                    call_with(&agent, ("POST", &create_url), Some(&key), Some(&body));
                assert_eq!(status, 200, "create {i}: {value}");
                mine.push(value["connectedAccountId"].as_str().unwrap().to_string());
                let done = progress.fetch_add(1, Ordering::Relaxed) + 1;
                if done % 10_000 == 0 {
                    println!(
                        "  … {done} connections in {:.0} s",
                        began.elapsed().as_secs_f64()
                    );
                }
            }
            ids.lock().unwrap().extend(mine);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let took = began.elapsed();
    let ids = std::mem::take(&mut *ids.lock().unwrap());
    (ids, took)
}

pub fn get_by_id(kp: &Server, ids: Vec<String>) -> Arc<Request> {
    let (base, key, ids) = (kp.url.clone(), kp.admin.clone(), Arc::new(ids));
    Arc::new(move |a, seed| {
        let id = &ids[(xorshift(seed) % ids.len() as u64) as usize];
        get_ok(
            a,
            &format!("{base}/api/v1/connectedAccounts/{id}"),
            Some(&key),
        )
    })
}

pub fn list_by_entity(kp: &Server, entities: usize) -> Arc<Request> {
    let (base, key) = (kp.url.clone(), kp.admin.clone());
    Arc::new(move |a, seed| {
        let e = xorshift(seed) % entities as u64;
        get_ok(
            a,
            &format!("{base}/api/v1/connectedAccounts?user_uuid=e{e}"),
            Some(&key),
        )
    })
}

pub fn dir_bytes(dir: &Path) -> u64 {
    ["keyport.db", "keyport.db-wal", "keyport.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}
