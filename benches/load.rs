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
//! Knobs (environment): `LOAD_CLIENTS` (8), `LOAD_SECS` per phase (4), `LOAD_CONNECTIONS`
//! (100000), `LOAD_ENTITIES` (10000), `LOAD_CREATE_SECS` (1200, a cap on the bulk
//! create), `LOAD_OUT` (`target/bench/load.md`), `KEYPORT_BIN` (the binary to measure).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark program: any failure aborts the run with its message"
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSPHRASE: &str = "benchmark passphrase, not a secret";
/// Requests per client and phase at most, whatever the duration.
const MAX_PER_CLIENT: usize = 2_000_000;
/// Concurrent users of one expired token.
const CONTENDERS: usize = 500;
/// Simulated provider latency of the token endpoint's refresh answer.
const REFRESH_DELAY: Duration = Duration::from_millis(50);

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Settings {
    clients: usize,
    phase: Duration,
    connections: usize,
    entities: usize,
    create_cap: Duration,
    sections: Vec<String>,
}

impl Settings {
    fn wants(&self, section: &str) -> bool {
        self.sections.is_empty() || self.sections.iter().any(|s| s == section)
    }
}

// ---------------------------------------------------------------------------------------
// keyport under test

fn bin() -> PathBuf {
    match std::env::var_os("KEYPORT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_keyport")),
    }
}

/// A keep-alive client. Its timeouts are per phase, not global: with a global (or
/// per-call) timeout ureq 3 resolves the host on a new thread for every request, which
/// would make the load generator measure thread creation.
fn agent() -> ureq::Agent {
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

struct Keyport {
    dir: PathBuf,
    url: String,
    admin: String,
    child: Option<Child>,
    /// Spawn until the first `/healthz` answered 200.
    ready: Duration,
}

impl Keyport {
    /// Starts `keyport serve` in `dir`. `kdf_ms: None` leaves `KEYPORT_KDF_MS` unset (the
    /// default calibration); the log level is keyport's default (`info`).
    fn start(dir: &Path, kdf_ms: Option<&str>, extra_env: &[(&str, &str)]) -> Keyport {
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

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    /// SIGTERM (a clean stop: keyport checkpoints the WAL) and wait.
    fn stop(&mut self) {
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

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        call(&agent(), &self.url, method, path, &self.admin, body)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path} -> {status} {value}");
        value
    }

    /// A BEARER_TOKEN integration whose API base URL is `base_url`.
    fn bearer_integration(&self, base_url: &str) -> String {
        let created = self.ok(
            "POST",
            "/api/v1/integrations",
            Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN",
                "authConfig": {"base_url": base_url}})),
        );
        created["id"].as_str().unwrap().to_string()
    }

    fn connect(&self, integration: &str, entity: &str, token: &str) -> String {
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

fn call(
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

fn rss_kib(pid: u32, field: &str) -> u64 {
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
type Request = dyn Fn(&ureq::Agent, &mut u64) -> bool + Send + Sync;

#[derive(Clone, Copy, Default)]
struct Stats {
    ok: usize,
    failed: usize,
    secs: f64,
    p50_us: u64,
    p99_us: u64,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }

    fn merge(runs: &[Stats], latencies: &mut [u64]) -> Stats {
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
fn run_load(clients: usize, phase: Duration, request: Arc<Request>) -> (Stats, Vec<u64>) {
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
fn compare(s: &Settings, a: Arc<Request>, b: Arc<Request>) -> (Stats, Stats) {
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

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn get_ok(agent: &ureq::Agent, url: &str, key: Option<&str>) -> bool {
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

// ---------------------------------------------------------------------------------------
// Local peers: an upstream API and a counting token endpoint

/// Reads one request (head and `Content-Length` body); `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1, one thread per connection (at most
/// `max_conns` connections over its life), answering each request with `answer`.
fn serve_local(
    max_conns: usize,
    answer: impl Fn(&str, &[u8]) -> String + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_conns).flatten() {
            let answer = Arc::clone(&answer);
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                while let Some((head, body)) = read_request(&mut reader) {
                    if writer.write_all(answer(&head, &body).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn json_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

// ---------------------------------------------------------------------------------------
// Report

struct Row {
    figure: String,
    keyport: String,
    reference: String,
    ratio: String,
    goal: String,
    met: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, figure: &str, keyport: String, reference: String, ratio: &str, goal: &str) {
        let met = match (ratio.parse::<f64>(), goal) {
            _ if goal.is_empty() => String::new(),
            (Ok(r), g) if g.starts_with('≥') => {
                let want: f64 = g
                    .trim_start_matches('≥')
                    .trim_end_matches('×')
                    .parse()
                    .unwrap();
                if r >= want { "yes" } else { "**no**" }.to_string()
            }
            _ => String::new(),
        };
        self.rows.push(Row {
            figure: figure.into(),
            keyport,
            reference,
            ratio: ratio.into(),
            goal: goal.into(),
            met,
        });
        let last = self.rows.last().unwrap();
        println!(
            "  {:<44} {:>28} | {:>28} | {:>6} {} {}",
            last.figure, last.keyport, last.reference, last.ratio, last.goal, last.met
        );
    }

    fn set_met(&mut self, met: &str) {
        if let Some(last) = self.rows.last_mut() {
            last.met = met.into();
        }
    }

    fn note(&mut self, text: String) {
        println!("  note: {text}");
        self.notes.push(text);
    }

    fn markdown(&self, machine: &str, command: &str) -> String {
        let mut out = String::new();
        writeln!(out, "{machine}\n").unwrap();
        writeln!(out, "Command: `{command}`\n").unwrap();
        writeln!(
            out,
            "| figure | keyport | reference (same run) | ratio | goal | met |"
        )
        .unwrap();
        writeln!(out, "|---|---|---|---|---|---|").unwrap();
        for r in &self.rows {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.figure, r.keyport, r.reference, r.ratio, r.goal, r.met
            )
            .unwrap();
        }
        if !self.notes.is_empty() {
            writeln!(out).unwrap();
            for n in &self.notes {
                writeln!(out, "- {n}").unwrap();
            }
        }
        out
    }
}

fn throughput(s: &Stats) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
        s.rps(),
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        if s.failed > 0 {
            format!(", {} failed", s.failed)
        } else {
            String::new()
        }
    )
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}", a / b.max(1e-9))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!(
        "Machine: {cores} cores (nproc), {model}, {:.1} GiB memory; load average at start {}",
        mem_kib as f64 / (1024.0 * 1024.0),
        loadavg()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// 1. Credential read against /healthz

fn section_read(s: &Settings, r: &mut Report, root: &Path) {
    println!("== credential read vs /healthz");
    let kp = Keyport::start(&root.join("read"), Some("0"), &[]);
    let integration = kp.bearer_integration("http://127.0.0.1:9");
    let id = kp.connect(&integration, "alice", "ghp_benchmark_token");
    let health_url = format!("{}/healthz", kp.url);
    let cred_url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let key = kp.admin.clone();
    let health: Arc<Request> = Arc::new(move |a, _| get_ok(a, &health_url, None));
    let cred: Arc<Request> = Arc::new(move |a, _| get_ok(a, &cred_url, Some(&key)));
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (Arc::clone(&peak), Arc::clone(&sampling), kp.pid());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let (c, h) = compare(s, cred, health);
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    r.row(
        &format!("credential read, {} clients", s.clients),
        throughput(&c),
        format!("/healthz: {}", throughput(&h)),
        &ratio(c.rps(), h.rps()),
        "≥0.6×",
    );
    r.note(format!(
        "loaded RSS during the credential-read run (KDF at the floor): peak {}",
        mib(peak.load(Ordering::Relaxed) * 1024)
    ));
}

// ---------------------------------------------------------------------------------------
// 2. Proxy against the same upstream called directly

fn section_proxy(s: &Settings, r: &mut Report, root: &Path) {
    println!("== proxy vs direct");
    let port = serve_local(10_000, |_, _| json_response(r#"{"ok":true}"#));
    let upstream = format!("http://127.0.0.1:{port}");
    let kp = Keyport::start(&root.join("proxy"), Some("0"), &[]);
    let integration = kp.bearer_integration(&upstream);
    let id = kp.connect(&integration, "alice", "ghp_benchmark_token");
    let (status, answer) = kp.call(
        "POST",
        "/api/v2/actions/proxy",
        Some(&json!({"connectedAccountId": id, "endpoint": "/ping", "method": "GET"})),
    );
    if status == 404 && answer["error"]["code"] == "not_found" {
        r.note("proxy: this build has no /api/v2/actions/proxy; skipped".into());
        return;
    }
    assert_eq!(status, 200, "proxy answered {status}: {answer}");
    let direct_url = format!("{upstream}/ping");
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
    r.row(
        &format!("proxy GET, {} clients", s.clients),
        throughput(&p),
        format!("direct: {}", throughput(&d)),
        &ratio(p.rps(), d.rps()),
        "≥0.45×",
    );
}

// ---------------------------------------------------------------------------------------
// 3. One expired OAuth2 token, 500 concurrent users

fn testidp_provider(dir: &Path) {
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::write(
        dir.join("providers/testidp.json"),
        json!({"apps": [{
            "key": "testidp", "name": "Test IdP", "description": "local token endpoint of the benchmark",
            "categories": ["testing"], "base_url": "http://127.0.0.1:9/api",
            "auth_schemes": [{"mode": "OAUTH2",
                "authorization_url": "http://127.0.0.1:9/auth", "token_url": "http://127.0.0.1:9/token",
                "default_scopes": ["openid"], "scope_separator": " ", "pkce": true,
                "token_auth": "client_secret_post"}]
        }]})
        .to_string(),
    )
    .unwrap();
}

fn section_refresh(r: &mut Report, root: &Path) {
    println!("== refresh under contention");
    let exchanges = Arc::new(AtomicUsize::new(0));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let port = {
        let (exchanges, refreshes) = (Arc::clone(&exchanges), Arc::clone(&refreshes));
        serve_local(2_000, move |_, body| {
            let form = String::from_utf8_lossy(body);
            if form.contains("grant_type=refresh_token") {
                let n = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
                std::thread::sleep(REFRESH_DELAY);
                json_response(&format!(
                    r#"{{"access_token":"at-{n}","refresh_token":"rt-{n}","token_type":"Bearer","expires_in":3600}}"#
                ))
            } else {
                exchanges.fetch_add(1, Ordering::SeqCst);
                json_response(
                    r#"{"access_token":"at-0","refresh_token":"rt-0","token_type":"Bearer","expires_in":1}"#,
                )
            }
        })
    };
    let dir = root.join("refresh");
    testidp_provider(&dir);
    let kp = Keyport::start(&dir, Some("0"), &[]);
    let integration = kp.ok(
        "POST",
        "/api/v1/integrations",
        Some(
            &json!({"appName": "testidp", "authScheme": "OAUTH2", "authConfig": {
            "client_id": "c", "client_secret": "s",
            "authorization_url": format!("http://127.0.0.1:{port}/auth"),
            "token_url": format!("http://127.0.0.1:{port}/token")}}),
        ),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created = kp.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": integration, "userUuid": "alice", "data": {}})),
    );
    let id = created["connectedAccountId"].as_str().unwrap().to_string();
    let link = created["redirectUrl"].as_str().unwrap();
    let html = agent()
        .get(link)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let marker = "id=\"continue\" href=\"";
    let start = html.find(marker).expect("continue link") + marker.len();
    let authorize = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    let state = authorize
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .expect("state")
        .to_string();
    let page = agent()
        .get(format!(
            "{}/callback/testidp?code=abc&state={state}",
            kp.url
        ))
        .call()
        .unwrap();
    assert_eq!(page.status(), 200, "callback");
    // The access token lives one second; wait until it is past its expiry.
    std::thread::sleep(Duration::from_millis(2_100));
    let refreshes_before = refreshes.load(Ordering::SeqCst);

    let url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let gate = Arc::new(Barrier::new(CONTENDERS + 1));
    let mut handles = Vec::new();
    for _ in 0..CONTENDERS {
        let (gate, url, key) = (Arc::clone(&gate), url.clone(), kp.admin.clone());
        handles.push(
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
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
                })
                .unwrap(),
        );
    }
    gate.wait();
    let began = Instant::now();
    let mut ok = 0;
    let mut tokens = std::collections::BTreeSet::new();
    let mut latencies = Vec::new();
    for h in handles {
        let (status, token, took) = h.join().unwrap();
        if status == 200 {
            ok += 1;
        }
        tokens.insert(token.unwrap_or_default());
        latencies.push(took.as_micros() as u64);
    }
    let all_served = began.elapsed();
    latencies.sort_unstable();
    let calls = refreshes.load(Ordering::SeqCst) - refreshes_before;
    r.row(
        &format!("refresh: {CONTENDERS} concurrent reads of an expired token"),
        format!(
            "{calls} token-endpoint call(s); {ok}/{CONTENDERS} served (200) in {:.0} ms; {} distinct token(s)",
            all_served.as_secs_f64() * 1000.0,
            tokens.len()
        ),
        format!(
            "endpoint answers after {} ms; p50 {:.0} ms, max {:.0} ms per request",
            REFRESH_DELAY.as_millis(),
            latencies[latencies.len() / 2] as f64 / 1000.0,
            *latencies.last().unwrap() as f64 / 1000.0
        ),
        "",
        "exactly 1 call",
    );
    r.set_met(if calls == 1 && ok == CONTENDERS && tokens.len() == 1 {
        "yes"
    } else {
        "**no**"
    });
}

// ---------------------------------------------------------------------------------------
// 4. Scale: 100,000 connections over 10,000 entities against 100 over 10

/// Creates `count` connections over `entities` entities (`e0`, `e1`…) with `clients`
/// concurrent API clients; stops early at `cap`. Returns the ids and the time taken.
fn populate(
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

fn get_by_id(kp: &Keyport, ids: Vec<String>) -> Arc<Request> {
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

fn list_by_entity(kp: &Keyport, entities: usize) -> Arc<Request> {
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

fn dir_bytes(dir: &Path) -> u64 {
    ["keyport.db", "keyport.db-wal", "keyport.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn section_scale(s: &Settings, r: &mut Report, root: &Path) {
    println!(
        "== scale: {} connections over {} entities",
        s.connections, s.entities
    );
    let small_entities = 10usize;
    let small_count = 100usize;
    let small = Keyport::start(&root.join("small"), Some("0"), &[]);
    let integration = small.bearer_integration("http://127.0.0.1:9");
    let (small_ids, _) = populate(
        &small,
        &integration,
        small_count,
        small_entities,
        s.clients,
        s.create_cap,
    );

    let big_dir = root.join("big");
    let mut big = Keyport::start(&big_dir, Some("0"), &[]);
    let integration = big.bearer_integration("http://127.0.0.1:9");
    let (big_ids, took) = populate(
        &big,
        &integration,
        s.connections,
        s.entities,
        s.clients,
        s.create_cap,
    );
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
    r.row(
        &format!("get by id, {made} vs {small_count} connections"),
        throughput(&g_big),
        format!("{small_count}: {}", throughput(&g_small)),
        &ratio(g_big.rps(), g_small.rps()),
        "≥0.9×",
    );
    let (l_big, l_small) = compare(
        s,
        list_by_entity(&big, big_entities),
        list_by_entity(&small, small_entities),
    );
    r.row(
        &format!(
            "list by entity ({} each), {made} vs {small_count}",
            made / big_entities
        ),
        throughput(&l_big),
        format!("{small_count}: {}", throughput(&l_small)),
        &ratio(l_big.rps(), l_small.rps()),
        "≥0.9×",
    );
    drop(small);

    big.stop();
    let bytes = dir_bytes(&big_dir);
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
    let restarted = Keyport::start(&big_dir, Some("0"), &[]);
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
    let _ = big_ids;
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
    let mut first = Keyport::start(&dir, None, &[]);
    let created = first.ready;
    first.stop();
    let kp = Keyport::start(&dir, None, &[]);
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
    let pid = kp.pid();
    let idle = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");
    let integration = kp.bearer_integration("http://127.0.0.1:9");
    let id = kp.connect(&integration, "alice", "ghp_benchmark_token");
    let url = format!("{}/api/v1/connectedAccounts/{id}/credentials", kp.url);
    let key = kp.admin.clone();
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (Arc::clone(&peak), Arc::clone(&sampling));
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (stats, _) = run_load(
        s.clients,
        s.phase / 2,
        Arc::new(move |a, _| get_ok(a, &url, Some(&key))),
    );
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let after = rss_kib(pid, "VmRSS:");
    r.row(
        "RSS (VmRSS)",
        format!(
            "idle {}; under credential-read load ({:.0} req/s) peak {}, after {}",
            mib(idle * 1024),
            stats.rps(),
            mib(peak.load(Ordering::Relaxed) * 1024),
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
