//! Proxy overhead: the same GET to the same local upstream, sent directly and through
//! `POST /api/v2/actions/proxy` (API-key check, connection and credential opened from the
//! vault, endpoint checks, injection, one outbound request), in one run, so the ratio is
//! not skewed by the machine's mood. Sequential latency (p50/p99) and concurrent
//! throughput, each for direct and proxied.
//!
//! `cargo bench --bench proxy` runs the full measurement (release build of keyport).
//! `cargo test --all-targets` runs this binary without `--bench`: a smoke run of a few
//! requests, so the benchmark is built and exercised in CI but stays fast.
//! Sizes can be set with `PROXY_BENCH_N` (sequential requests per side, default 2000),
//! `PROXY_BENCH_THREADS` (default 8) and `PROXY_BENCH_PER_THREAD` (default 500).

#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]
#![expect(clippy::disallowed_methods, reason = "a benchmark times real requests")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BODY: &str = r#"{"login":"bench","id":1,"name":"Bench User"}"#;

/// A keep-alive HTTP/1.1 upstream answering every request with `BODY`.
fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() || writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

struct Keyport {
    url: String,
    admin: String,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Drop for Keyport {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn start_keyport() -> Keyport {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let log = std::fs::File::create(tmp.path().join("keyport.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_keyport"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEYPORT_KDF_MS", "0")
        .env("KEYPORT_PASSPHRASE", "bench passphrase")
        .env_remove("KEYPORT_URL")
        .env_remove("KEYPORT_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn keyport");
    // Owned by `Keyport` at once, so a failed start still kills and reaps the child.
    let mut kp = Keyport {
        url: String::new(),
        admin: String::new(),
        child,
        _tmp: tmp,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(url) = std::fs::read_to_string(dir.join("server.url")) {
            let url = url.trim().to_string();
            if agent().get(format!("{url}/healthz")).call().is_ok() {
                let admin = std::fs::read_to_string(dir.join("admin.key")).expect("admin.key");
                kp.url = url;
                kp.admin = admin.trim().to_string();
                return kp;
            }
        }
        assert!(Instant::now() < deadline, "keyport did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn post(agent: &ureq::Agent, kp: &Keyport, path: &str, body: &Value) -> Value {
    let mut response = agent
        .post(format!("{}{path}", kp.url))
        .header("x-api-key", &kp.admin)
        .send_json(body)
        .expect("call keyport");
    let status = response.status().as_u16();
    let value: Value = response.body_mut().read_json().expect("json");
    assert_eq!(status, 200, "{path}: {value}");
    value
}

/// One request; panics unless it got the upstream's answer.
type Send = dyn Fn(&ureq::Agent) + Sync;

fn direct(url: String) -> Box<Send> {
    Box::new(move |agent: &ureq::Agent| {
        let mut r = agent.get(&url).call().expect("direct");
        assert_eq!(r.status().as_u16(), 200);
        let text = r.body_mut().read_to_string().expect("body");
        assert_eq!(text.len(), BODY.len());
    })
}

fn proxied(url: String, key: String, connection: String) -> Box<Send> {
    let body = json!({"connectedAccountId": connection, "endpoint": "/user", "method": "GET"});
    Box::new(move |agent: &ureq::Agent| {
        let mut r = agent
            .post(&url)
            .header("x-api-key", &key)
            .send_json(&body)
            .expect("proxied");
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.body_mut().read_json().expect("json");
        assert_eq!(v["status"], 200, "{v}");
    })
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    rps: f64,
}

fn stats(mut samples: Vec<Duration>, wall: Duration, requests: usize) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / samples.len() as u32,
        rps: requests as f64 / wall.as_secs_f64(),
    }
}

fn sequential(send: &Send, n: usize) -> Stats {
    let agent = agent();
    for _ in 0..n.min(100) {
        send(&agent);
    }
    let mut samples = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        send(&agent);
        samples.push(t.elapsed());
    }
    stats(samples, started.elapsed(), n)
}

fn concurrent(send: &Send, threads: usize, per_thread: usize) -> Stats {
    let started = Instant::now();
    let samples: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let agent = agent();
                    let mut own = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        send(&agent);
                        own.push(t.elapsed());
                    }
                    own
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    stats(samples, started.elapsed(), threads * per_thread)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn row(label: &str, s: &Stats) {
    println!(
        "| {label} | {} | {} | {} | {:.0} |",
        ms(s.p50),
        ms(s.p99),
        ms(s.mean),
        s.rps
    );
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, threads, per_thread) = if full {
        (
            env_or("PROXY_BENCH_N", 2000),
            env_or("PROXY_BENCH_THREADS", 8),
            env_or("PROXY_BENCH_PER_THREAD", 500),
        )
    } else {
        (20, 2, 10)
    };
    let port = upstream();
    let kp = start_keyport();
    let admin_agent = agent();
    let base = format!("http://127.0.0.1:{port}");
    let integration = post(
        &admin_agent,
        &kp,
        "/api/v1/integrations",
        &json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": base}}),
    );
    let connection = post(
        &admin_agent,
        &kp,
        "/api/v1/connectedAccounts",
        &json!({"integrationId": integration["id"], "userUuid": "bench", "data": {"token": "ghp_bench_token"}}),
    );
    let connection = connection["connectedAccountId"]
        .as_str()
        .expect("id")
        .to_string();
    let direct = direct(format!("{base}/user"));
    let proxied = proxied(
        format!("{}/api/v2/actions/proxy", kp.url),
        kp.admin.clone(),
        connection,
    );

    let seq_direct = sequential(direct.as_ref(), n);
    let seq_proxied = sequential(proxied.as_ref(), n);
    let con_direct = concurrent(direct.as_ref(), threads, per_thread);
    let con_proxied = concurrent(proxied.as_ref(), threads, per_thread);

    if !full {
        println!("proxy bench smoke run ok (run `cargo bench --bench proxy` to measure)");
        return;
    }
    println!("sequential: {n} requests each; concurrent: {threads} threads x {per_thread}");
    println!();
    println!("| run | p50 ms | p99 ms | mean ms | req/s |");
    println!("|---|---|---|---|---|");
    row("sequential, direct", &seq_direct);
    row("sequential, proxied", &seq_proxied);
    row(&format!("{threads} threads, direct"), &con_direct);
    row(&format!("{threads} threads, proxied"), &con_proxied);
    println!();
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    println!(
        "proxied/direct: sequential p50 x{:.2}, p99 x{:.2}, throughput x{:.2}; concurrent p50 x{:.2}, p99 x{:.2}, throughput x{:.2}",
        ratio(seq_direct.p50, seq_proxied.p50),
        ratio(seq_direct.p99, seq_proxied.p99),
        seq_proxied.rps / seq_direct.rps,
        ratio(con_direct.p50, con_proxied.p50),
        ratio(con_direct.p99, con_proxied.p99),
        con_proxied.rps / con_direct.rps,
    );
}
