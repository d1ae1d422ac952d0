//! The bench's machinery: `keyport serve` started by the test kit's launcher with the
//! bench's settings (the binary measured, the log level), the calls the bench makes with
//! `ureq` where wrk does not fit (bulk creation, 500 simultaneous readers), memory
//! readings from `/proc`, and the open-files limit raised for thousands of sockets.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use serde_json::json;

use crate::common::client::{agent, call_with};
use crate::common::{Launch, Server};

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Settings {
    /// Per wrk run.
    pub secs: u64,
    /// Runs per side of each comparison, alternated (a b a b …).
    pub rounds: usize,
    /// Connections of the throughput comparisons.
    pub connections: usize,
    /// wrk threads.
    pub threads: usize,
    /// Concurrent calls of the slow-upstream burst.
    pub burst: usize,
    /// The burst's wrk run, per side.
    pub burst_secs: u64,
    /// Idle keep-alive connections held at once.
    pub idle: usize,
    /// API clients creating rows.
    pub creators: usize,
    /// Bulk-created connections of the scale section, over `entities` entities.
    pub rows: usize,
    pub entities: usize,
    pub create_cap: Duration,
    pub sections: Vec<String>,
}

impl Settings {
    pub fn wants(&self, section: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section)
    }
}

/// Raises this process's open-files limit to its hard limit (the children, keyport
/// included, inherit it); the new soft limit.
pub fn raise_nofile() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// Runs `f` with this thread bound to CPU `cpu` alone, so that what it spawns (keyport,
/// wrk) inherits the binding; the thread's own affinity is restored after.
pub fn on_cpu<T>(cpu: usize, f: impl FnOnce() -> T) -> T {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let this_thread = Pid::from_raw(0);
    let before = sched_getaffinity(this_thread).expect("this thread's affinity");
    let mut one = CpuSet::new();
    one.set(cpu).expect("a CPU index");
    sched_setaffinity(this_thread, &one).expect("bind to one CPU");
    let out = f();
    sched_setaffinity(this_thread, &before).expect("restore the affinity");
    out
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
    start_logged(dir, kdf_ms, None)
}

/// `start` with `KEYPORT_LOG` set to `log` (`None`: keyport's default level).
pub fn start_logged(dir: &Path, kdf_ms: Option<&str>, log: Option<&str>) -> Server {
    let launch = Launch {
        bin: bin(),
        kdf_ms: kdf_ms.map(Into::into),
        ..Launch::default()
    };
    launch.log(log).start_in(dir).unwrap_or_else(|out| {
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
// Calls

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

pub fn dir_bytes(dir: &Path) -> u64 {
    ["keyport.db", "keyport.db-wal", "keyport.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}
