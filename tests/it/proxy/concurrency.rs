//! The data plane holds no thread while it waits on a provider. actix's blocking pool has
//! 512 threads; when the proxy held one per upstream call, no more than 512 calls could be
//! waiting on providers at once. Here 600 proxied calls go to a stand-in that holds every
//! request until all 600 are in flight at the same time (and at least 1 s), so the claim
//! is structural, not a race: either the stand-in sees 600 simultaneous requests or it
//! gives up after 20 s. While they wait, keyport's thread count is read from
//! /proc/PID/status and must stay far below one thread per call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::github;
use crate::common::Server;

const CALLS: usize = 600;
/// The least time the stand-in holds each request.
const HOLD: Duration = Duration::from_secs(1);
/// When the stand-in stops waiting for all calls to arrive.
const GIVE_UP: Duration = Duration::from_secs(20);
/// Far below one thread per call, far above what the workers and an idle blocking pool need.
const MAX_THREADS: usize = 150;

/// What the stand-in saw: requests that arrived, in flight now and at most at once.
#[derive(Default)]
struct Seen {
    arrived: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

struct Stand {
    seen: Seen,
    all_in: watch::Sender<usize>,
}

async fn hold(stand: web::Data<Stand>) -> HttpResponse {
    let now = stand.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stand.seen.peak.fetch_max(now, Ordering::SeqCst);
    let arrived = stand.seen.arrived.fetch_add(1, Ordering::SeqCst) + 1;
    stand.all_in.send_replace(arrived);
    let mut all_in = stand.all_in.subscribe();
    let everyone = tokio::time::timeout(GIVE_UP, all_in.wait_for(|n| *n >= CALLS));
    let _ = tokio::join!(everyone, tokio::time::sleep(HOLD));
    stand.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// Starts the holding stand-in on its own thread; returns its base URL and what it saw.
fn stand_in() -> (String, web::Data<Stand>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stand = web::Data::new(Stand {
        seen: Seen::default(),
        all_in: watch::channel(0).0,
    });
    let shared = stand.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(shared.clone())
                    .default_service(web::to(hold))
            })
            .workers(1)
            .backlog(4096)
            .listen(listener)
            .expect("listen")
            .run()
            .await
        })
    });
    (base, stand)
}

/// `Threads:` and `VmRSS:` (kB) of a process.
fn threads_and_rss(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> usize {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("field in /proc status")
    };
    (field("Threads:"), field("VmRSS:"))
}

/// Sends `CALLS` proxied GETs at once; returns each answer's status and body.
fn burst(url: &str, key: &str, connection: &str) -> Vec<(u16, Value)> {
    let body = json!({"connectedAccountId": connection, "endpoint": "/hold", "method": "GET"});
    actix_web::rt::System::new().block_on(async move {
        let connector = awc::Connector::new().limit(0);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs(60))
            .finish();
        let calls = (0..CALLS).map(|_| {
            let request = client
                .post(format!("{url}/api/v2/actions/proxy"))
                .insert_header(("x-api-key", key))
                .send_json(&body);
            async move {
                let mut response = request.await.expect("proxied call");
                let answer: Value = response.json().await.expect("JSON answer");
                (response.status().as_u16(), answer)
            }
        });
        futures_util::future::join_all(calls).await
    })
}

#[test]
fn proxied_calls_wait_on_the_provider_without_holding_a_thread() {
    let server = Server::start();
    let pid = server.pid().expect("pid");
    let (base, stand) = stand_in();
    let connection = github(&server, &base, "t");
    let idle = threads_and_rss(pid);

    let started = Instant::now();
    let (url, admin) = (server.url.clone(), server.admin.clone());
    let calls = std::thread::spawn(move || burst(&url, &admin, &connection));
    while stand.seen.arrived.load(Ordering::SeqCst) < CALLS && started.elapsed() < GIVE_UP {
        std::thread::sleep(Duration::from_millis(20));
    }
    let during = threads_and_rss(pid);
    let answers = calls.join().expect("burst");
    let elapsed = started.elapsed();
    let after = threads_and_rss(pid);
    eprintln!(
        "{CALLS} proxied calls held {HOLD:?} upstream: {elapsed:?}; keyport threads/RSS kB: \
         idle {idle:?}, during {during:?}, after {after:?}"
    );

    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["data"], json!({"ok": true}), "{answer}");
    }
    let peak = stand.seen.peak.load(Ordering::SeqCst);
    assert_eq!(
        peak, CALLS,
        "all {CALLS} calls must wait on the provider at once; at most {peak} did"
    );
    assert!(
        during.0 <= MAX_THREADS,
        "keyport ran {} threads while {CALLS} calls waited (idle: {})",
        during.0,
        idle.0
    );
}
