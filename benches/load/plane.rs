//! The data plane measured with wrk, each figure against a reference on the same machine
//! in the same run: the credential read and get-by-id against `/healthz` on the same
//! server; the proxy against the same GET sent straight to a local upstream as fast as a
//! static route; 1,000 concurrent proxied calls to an upstream that answers after 1 s
//! against the same burst sent straight to it, with keyport's memory during and after;
//! 10,000 idle keep-alive connections held at once; and the cost of the access log
//! (`/healthz` at the default level against `KEYPORT_LOG=warn`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::Server;
use crate::harness::{
    Settings, bearer_integration, connect, on_cpu, peak_rss, pid, rss_kib, start, start_logged,
};
use crate::report::{Goal, Report, count, mb_kib, ms};
use crate::upstream::{Forwarder, Upstream};
use crate::wrk::{Figures, Load, Target, Wrk};
use crate::{floor, idle};

/// The token keyport injects, and the direct calls send themselves.
pub const TOKEN: &str = "ghp_benchmark_token";
/// The upstream's answer delay in the burst.
const SLOW: Duration = Duration::from_secs(1);
/// RSS ceiling during and after the burst, in bytes (the 40 MB).
const BURST_RSS_GOAL: u64 = 40_000_000;

impl Settings {
    /// The throughput comparisons' load: `connections` connections over `threads` threads.
    pub fn load(&self, connections: usize) -> Load {
        Load {
            connections,
            threads: self.threads,
            secs: self.secs,
            timeout_secs: 5,
        }
    }
}

/// keyport and one BEARER_TOKEN connection whose API lives at `base_url`; its id.
pub(crate) fn with_connection(dir: &Path, base_url: &str) -> (Server, String) {
    let kp = start(dir, Some("0"));
    let integration = bearer_integration(&kp, base_url);
    let id = connect(&kp, &integration, "alice", TOKEN);
    (kp, id)
}

fn proxy_target(kp: &Server, id: &str) -> Target {
    let body = json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"});
    Target::get(&format!("{}/api/v2/actions/proxy", kp.url))
        .key(&kp.admin)
        .post_json(&body.to_string())
}

fn direct_target(upstream: &Upstream) -> Target {
    Target::get(&format!("{}/user", upstream.base))
        .header("Authorization", &format!("Bearer {TOKEN}"))
}

/// One proxied call must succeed before the proxy is measured.
fn proxy_works(kp: &Server, id: &str) {
    let (status, answer) =
        kp.proxy(json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"}));
    assert_eq!(status, 200, "proxy answered {status}: {answer}");
    assert_eq!(answer["status"], 200, "the upstream answered: {answer}");
}

/// Credential reads and gets by id, alternated with `/healthz` on the same server.
fn reads(w: &Wrk, kp: &Server, id: &str, load: Load, rounds: usize) -> Vec<Figures> {
    let health = Target::get(&format!("{}/healthz", kp.url));
    let account = format!("{}/api/v1/connectedAccounts/{id}", kp.url);
    let cred = Target::get(&format!("{account}/credentials")).key(&kp.admin);
    let by_id = Target::get(&account).key(&kp.admin);
    let targets = [
        ("healthz", &health),
        ("credentials", &cred),
        ("get-by-id", &by_id),
    ];
    w.alternate(&targets, load, rounds)
}

/// The reads as the issue measured them: keyport (a worker per core) and wrk (`-t2`)
/// sharing both cores. Their tails include the waits of four busy threads on two cores,
/// `/healthz`'s as much as the others', so the tail goal is judged in `read_pinned`.
pub fn section_read(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== credential read and get by id vs /healthz");
    let (kp, id) = with_connection(&root.join("read"), "http://127.0.0.1:9");
    let load = s.load(s.connections);
    let (f, peak) = peak_rss(pid(&kp), Duration::from_millis(100), || {
        reads(w, &kp, &id, load, s.rounds)
    });
    r.row(
        "load generator",
        (
            format!(
                "{}, -t{} -c{}, {} s runs",
                w.version(),
                load.threads,
                load.connections,
                s.secs
            ),
            format!("its `/healthz` figure: {:.0} req/s", f[0].rps()),
        ),
        "",
        ("wrk itself", Some(true)),
    );
    let health = format!(
        "/healthz (p99 = {:.1}× p50)",
        f[0].p99_us / f[0].p50_us.max(1e-9)
    );
    let goal = Goal::ratio(0.6);
    r.compared("credential read (admin key)", (&f[1], &f[0]), &health, goal);
    r.compared("get by id (admin key)", (&f[2], &f[0]), &health, goal);
    r.note(format!(
        "keyport's RSS during the read runs: peak {}",
        mb_kib(peak)
    ));
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        read_pinned(s, w, r, root);
    }
}

/// The same reads with keyport bound to core 0 (so one worker) and wrk to core 1 (one
/// thread): neither preempts the other, and the tail is keyport's own.
fn read_pinned(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== the same, keyport on core 0 and wrk on core 1");
    let (kp, id) = on_cpu(0, || {
        with_connection(&root.join("read-pinned"), "http://127.0.0.1:9")
    });
    let load = Load {
        threads: 1,
        ..s.load(s.connections)
    };
    let f = on_cpu(1, || reads(w, &kp, &id, load, s.rounds));
    let goal = Goal {
        ratio: Some(0.6),
        tail: Some(3.0),
    };
    let rows = [("credential read", &f[1]), ("get by id", &f[2])];
    for (what, ours) in rows {
        r.compared(
            &format!("{what}, keyport on core 0 and wrk -t1 on core 1"),
            (ours, &f[0]),
            "/healthz",
            goal,
        );
    }
}

pub fn section_proxy(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== proxy vs the same GET sent directly");
    let upstream = Upstream::answering(Duration::ZERO);
    let (kp, id) = with_connection(&root.join("proxy"), &upstream.base);
    proxy_works(&kp, &id);
    let forwarder = Forwarder::forwarding(&upstream.base, &format!("Bearer {TOKEN}"));
    let (proxied, direct) = (proxy_target(&kp, &id), direct_target(&upstream));
    let bare = Target::get(&format!("{}/api/v2/actions/proxy", forwarder.base)).post_json(
        &json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"}).to_string(),
    );
    let targets = [
        ("proxy", &proxied),
        ("direct", &direct),
        ("forwarder", &bare),
    ];
    let f = w.alternate(&targets, s.load(s.connections), s.rounds);
    r.compared(
        &format!("proxy GET → local upstream, {} connections", s.connections),
        (&f[0], &f[1]),
        "same GET direct (static route)",
        Goal::ratio(0.45),
    );
    r.compared(
        "the ceiling: a bare actix-web + awc forwarder → the same upstream",
        (&f[2], &f[1]),
        "same GET direct (static route)",
        Goal::default(),
    );
    r.compared(
        "proxy GET against that bare forwarder",
        (&f[0], &f[2]),
        "bare forwarder",
        Goal::default(),
    );
    let one = w.alternate(&targets, s.load(1), 1);
    r.row(
        "proxy GET, 1 connection (latency keyport adds)",
        (
            format!("p50 {}, p99 {}", ms(one[0].p50_us), ms(one[0].p99_us)),
            format!(
                "direct: p50 {}, p99 {}",
                ms(one[1].p50_us),
                ms(one[1].p99_us)
            ),
        ),
        &format!("+{}", ms(one[0].p50_us - one[1].p50_us)),
        ("", None),
    );
}

pub fn section_burst(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!(
        "== {} concurrent calls to an upstream that answers after 1 s",
        s.burst
    );
    let upstream = Upstream::answering(SLOW);
    let (kp, id) = with_connection(&root.join("burst"), &upstream.base);
    proxy_works(&kp, &id);
    let pid = pid(&kp);
    let idle = rss_kib(pid, "VmRSS:");
    let load = Load {
        connections: s.burst,
        threads: s.threads,
        secs: s.burst_secs,
        timeout_secs: 10,
    };
    let direct = w.run("burst-direct", &direct_target(&upstream), load);
    let (proxied, peak) = peak_rss(pid, Duration::from_millis(50), || {
        w.run("burst-proxy", &proxy_target(&kp, &id), load)
    });
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(pid, "VmRSS:");
    r.compared(
        &format!(
            "{} concurrent proxied calls, upstream answers after 1 s",
            count(s.burst)
        ),
        (&proxied, &direct),
        "direct",
        Goal::ratio(0.9),
    );
    // A closed loop's steady state (Little's law): calls in flight over the mean latency.
    let steady = |f: &Figures| s.burst as f64 / (f.mean_us / 1e6).max(1e-9);
    r.note(format!(
        "the burst's steady state (Little's law, {} calls / mean latency): proxied {:.0} req/s (mean {}), direct {:.0} req/s (mean {}) = {:.2}×; a {} s window counts whole 1 s rounds, so its ratio moves by up to one round",
        s.burst,
        steady(&proxied),
        ms(proxied.mean_us),
        steady(&direct),
        ms(direct.mean_us),
        steady(&proxied) / steady(&direct).max(1e-9),
        s.burst_secs
    ));
    let met = peak * 1024 <= BURST_RSS_GOAL && after * 1024 <= BURST_RSS_GOAL;
    r.row(
        "keyport's RSS around that burst",
        (
            format!("peak {} during, {} 2 s after", mb_kib(peak), mb_kib(after)),
            format!("idle before: {}", mb_kib(idle)),
        ),
        "",
        ("≤ 40 MB during and after", Some(met)),
    );
    burst_floor(&upstream, load, w, r);
}

/// The same burst through the bare forwarder in a process of its own: the RSS any proxy
/// made of actix-web and awc holds for as many calls in flight.
fn burst_floor(upstream: &Upstream, load: Load, w: &Wrk, r: &mut Report) {
    let child = floor::Child::start(&upstream.base);
    let target = Target::get(&format!("{}/api/v2/actions/proxy", child.base)).post_json("{}");
    let idle = rss_kib(child.pid(), "VmRSS:");
    let (forwarded, peak) = peak_rss(child.pid(), Duration::from_millis(50), || {
        w.run("burst-forwarder", &target, load)
    });
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(child.pid(), "VmRSS:");
    r.row(
        "the floor: a bare actix-web + awc forwarder (its own process) around the same burst",
        (
            format!(
                "peak {} during, {} 2 s after ({:.0} req/s)",
                mb_kib(peak),
                mb_kib(after),
                forwarded.rps()
            ),
            format!("idle before: {}", mb_kib(idle)),
        ),
        "",
        ("", None),
    );
}

pub fn section_idle(s: &Settings, r: &mut Report, root: &Path) {
    println!("== {} idle keep-alive connections", s.idle);
    let kp = start(&root.join("idle"), Some("0"));
    let pid = pid(&kp);
    let addr: SocketAddr = kp
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("keyport's address");
    let before = rss_kib(pid, "VmRSS:");
    let mut with = 0;
    let held = idle::hold(addr, s.idle, Duration::from_secs(1), 10, || {
        with = rss_kib(pid, "VmRSS:");
    });
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_kib(pid, "VmRSS:");
    let met = held.opened == s.idle
        && held.open_errors == 0
        && held.still_open == held.opened
        && held.sample_ok == held.sampled;
    r.row(
        &format!("{} idle keep-alive connections held at once", count(s.idle)),
        (
            format!(
                "{} opened in {:.1} s ({} errors); {} still open when the oldest had idled {:.1} s; {}/{} sampled answered a second request",
                held.opened,
                held.open_took.as_secs_f64(),
                held.open_errors,
                held.still_open,
                held.oldest_idle.as_secs_f64(),
                held.sample_ok,
                held.sampled
            ),
            format!(
                "RSS: {} before, {} with them open, {} after closing",
                mb_kib(before),
                mb_kib(with),
                mb_kib(after)
            ),
        ),
        "",
        ("all held, 0 errors", Some(met)),
    );
}

pub fn section_log(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== the access log's cost: /healthz at info vs warn");
    let info = start_logged(&root.join("log-info"), Some("0"), None);
    let warn = start_logged(&root.join("log-warn"), Some("0"), Some("warn"));
    let at_info = Target::get(&format!("{}/healthz", info.url));
    let at_warn = Target::get(&format!("{}/healthz", warn.url));
    let f: Vec<Figures> = w.alternate(
        &[("healthz-info", &at_info), ("healthz-warn", &at_warn)],
        s.load(s.connections),
        s.rounds,
    );
    r.compared(
        "access log: /healthz at the default level (a line per request)",
        (&f[0], &f[1]),
        "`KEYPORT_LOG=warn`",
        Goal::default(),
    );
}
