//! The bench's machinery: `keyport serve` as a child process on 127.0.0.1, its API as
//! the bench calls it, and the load generator (client threads with keep-alive agents,
//! fixed-duration phases, latency percentiles).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const PASSPHRASE: &str = "benchmark passphrase, not a secret";
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

pub fn bin() -> PathBuf {
    match std::env::var_os("KEYPORT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_keyport")),
    }
}

/// A keep-alive client. Its timeouts are per phase, not global: with a global (or
/// per-call) timeout ureq 3 resolves the host on a new thread for every request, which
/// would make the load generator measure thread creation.
pub fn agent() -> ureq::Agent {
    let limit = Some(Duration::from_secs(60));
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(limit)
        .timeout_send_request(limit)
        .timeout_send_body(limit)
        .timeout_recv_response(limit)
        .timeout_recv_body(limit)
        .build()
        .into()
}

pub struct Keyport {
    pub dir: PathBuf,
    pub url: String,
    pub admin: String,
    pub child: Option<Child>,
    /// Spawn until the first `/healthz` answered 200.
    pub ready: Duration,
}

impl Keyport {
    /// Starts `keyport serve` in `dir`. `kdf_ms: None` leaves `KEYPORT_KDF_MS` unset (the
    /// default calibration); the log level is keyport's default (`info`).
    pub fn start(dir: &Path, kdf_ms: Option<&str>, extra_env: &[(&str, &str)]) -> Keyport {
        std::fs::create_dir_all(dir).unwrap();
        let url_file = dir.join("server.url");
        let _ = std::fs::remove_file(&url_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYPORT_PASSPHRASE", PASSPHRASE)
            .env_remove("KEYPORT_LOG")
            .env_remove("KEYPORT_URL")
            .env_remove("KEYPORT_LISTEN")
            .env_remove("KEYPORT_KDF_MS")
            .env_remove("KEYPORT_PASSPHRASE_FILE")
            .env_remove("KEYPORT_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(ms) = kdf_ms {
            cmd.env("KEYPORT_KDF_MS", ms);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn keyport");
        let probe = agent();
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "keyport exited with {status}: {}",
                    std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default()
                );
            }
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                let url = url.trim().to_string();
                if let Ok(r) = probe.get(format!("{url}/healthz")).call()
                    && r.status() == 200
                {
                    let ready = started.elapsed();
                    let admin = std::fs::read_to_string(dir.join("admin.key"))
                        .unwrap()
                        .trim()
                        .to_string();
                    return Keyport {
                        dir: dir.to_path_buf(),
                        url,
                        admin,
                        child: Some(child),
                        ready,
                    };
                }
            }
            assert!(Instant::now() < deadline, "keyport did not start in 120 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    /// SIGTERM (a clean stop: keyport checkpoints the WAL) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        call(&agent(), &self.url, method, path, &self.admin, body)
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path} -> {status} {value}");
        value
    }

    /// A BEARER_TOKEN integration whose API base URL is `base_url`.
    pub fn bearer_integration(&self, base_url: &str) -> String {
        let created = self.ok(
            "POST",
            "/api/v1/integrations",
            Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN",
                "authConfig": {"base_url": base_url}})),
        );
        created["id"].as_str().unwrap().to_string()
    }

    pub fn connect(&self, integration: &str, entity: &str, token: &str) -> String {
        let created = self.ok(
            "POST",
            "/api/v1/connectedAccounts",
            Some(&json!({"integrationId": integration, "userUuid": entity,
                "data": {"token": token}})),
        );
        created["connectedAccountId"].as_str().unwrap().to_string()
    }
}

impl Drop for Keyport {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn call(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("x-api-key", key);
    let result = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(b.to_string())
                .unwrap(),
        ),
        None => agent.run(req.body(()).unwrap()),
    };
    let mut response = result.expect("HTTP call");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
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
    kp: &Keyport,
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
        let (url, key, integration) = (kp.url.clone(), kp.admin.clone(), integration.to_string());
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
                let (status, value) = call(
                    &agent,
                    &url,
                    "POST",
                    "/api/v1/connectedAccounts",
                    &key,
                    Some(&body),
                );
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

pub fn get_by_id(kp: &Keyport, ids: Vec<String>) -> Arc<Request> {
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

pub fn list_by_entity(kp: &Keyport, entities: usize) -> Arc<Request> {
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
