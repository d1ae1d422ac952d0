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

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark fails loudly"
)]
#![expect(clippy::disallowed_methods, reason = "a benchmark times real requests")]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::stand_in::{Upstream, reply};
use common::{Launch, Server, agent};

// The test kit (launcher, client, stand-in servers), shared with tests/it.
#[path = "../tests/it/common/mod.rs"]
#[expect(
    dead_code,
    unused_imports,
    reason = "the bench uses part of the test kit"
)]
mod common;

const BODY: &str = r#"{"login":"bench","id":1,"name":"Bench User"}"#;

/// keyport with the KDF at its floor and its default log level.
fn start_keyport() -> Server {
    Launch::default().log(None).start()
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
    let upstream = Upstream::unrecorded(|_| reply(200, "application/json", BODY));
    let kp = start_keyport();
    let base = upstream.base.clone();
    let integration = kp.integration(
        json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": base}}),
    );
    let connection = kp.create_connection(
        json!({"integrationId": integration["id"], "userUuid": "bench", "data": {"token": "ghp_bench_token"}}),
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
