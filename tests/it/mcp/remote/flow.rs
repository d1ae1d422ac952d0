//! The way it is meant to go: add, sign in, bridge; many bridges on one login.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Rig, call, leaks};
use crate::common::peers;

fn fingerprint16(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))[..16]
        .to_string()
}

/// `keyport mcp add` registered keyport once at the authorization server; a second server
/// of the same issuer reuses that registration.
fn add_and_check(rig: &Rig) -> Value {
    let added = rig.add("remote");
    assert_eq!(added["enrolment"], "registered", "{added}");
    assert_eq!(added["issuer"].as_str(), Some(rig.idp.issuer.as_str()));
    assert_eq!(added["url"].as_str(), Some(rig.remote.url.as_str()));
    assert_eq!(
        added["scopes"],
        json!(["mcp:tools", "offline_access"]),
        "{added}"
    );
    assert_eq!(rig.idp.stats()["registrations"], 1);
    // Registrations are keyed by issuer: a second server of this issuer registers nothing.
    let second = rig.keyport(&["mcp", "add", "remote-again", &rig.remote.url]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(second["enrolment"], "reused", "{second}");
    assert_eq!(second["clientId"], added["clientId"]);
    assert_eq!(rig.idp.stats()["registrations"], 1);
    added
}

/// What the host saw: the remote server's tools, the calls' results intact, and each
/// notification the server sent during a call.
fn assert_relayed(summary: &Value, stderr: &str) {
    assert_eq!(summary["ok"], true, "{summary}\n{stderr}");
    assert_eq!(summary["server_info"]["name"], "keyport-remote-peer");
    let tools: BTreeSet<&str> = summary["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in ["echo", "add", "notify", "admin_task"] {
        assert!(tools.contains(tool), "{summary}");
    }
    assert_eq!(call(summary, "echo")["text"], "hello through keyport");
    assert_eq!(call(summary, "add")["structured"]["sum"], 42, "{summary}");
    assert_eq!(call(summary, "notify")["text"], "sent 3", "{summary}");
    let logged: Vec<&Value> = summary["notifications"]["logging"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["data"])
        .collect();
    let expected: Vec<Value> = (1..=3)
        .map(|i| json!(format!("notification {i} of 3")))
        .collect();
    assert_eq!(logged, expected.iter().collect::<Vec<_>>(), "{summary}");
    let progress = summary["notifications"]["progress"].as_array().unwrap();
    assert_eq!(progress.len(), 3, "{summary}");
}

#[test]
fn a_host_uses_a_remote_mcp_server_through_the_bridge_with_keyports_login() {
    let rig = Rig::start(3600, &[]);
    let added = add_and_check(&rig);
    let login = rig.login(&added, "alice");
    let stats = rig.idp.stats();
    assert_eq!(stats["token_without_resource"], 0, "{stats}");
    let mut secrets = rig.tokens(&login);
    assert_eq!(secrets.len(), 2, "an access and a refresh token");

    let calls = [
        ("echo", r#"{"text": "hello through keyport"}"#),
        ("add", r#"{"a": 2, "b": 40}"#),
        ("notify", r#"{"count": 3}"#),
    ];
    let args: Vec<&str> = calls
        .iter()
        .flat_map(|(tool, args)| ["--call", tool, "--args", args])
        .collect();
    let (summary, stderr) = rig.host("remote", "alice", &args);
    assert_relayed(&summary, &stderr);
    let remote = rig.remote.stats();
    assert_eq!(
        remote["tool_calls"],
        json!({"echo": 1, "add": 1, "notify": 1})
    );
    assert_eq!(
        remote["token_fingerprints"],
        json!([fingerprint16(&secrets[0])]),
        "the server saw exactly keyport's token"
    );
    secrets.extend(rig.tokens(&login));
    let (host_saw, log) = (summary.to_string(), rig.server.log());
    let places = [
        ("host", host_saw.as_str()),
        ("bridge stderr", stderr.as_str()),
        ("keyport log", log.as_str()),
    ];
    let found = leaks(&rig.server.dir, &places, &secrets);
    assert!(found.is_empty(), "a token leaked: {found:?}");
}

/// Reveals the login's tokens every 300 ms until told to stop: every token keyport held.
fn collect_tokens(rig: &Rig, login: &str, stop: &AtomicBool, into: &Mutex<BTreeSet<String>>) {
    while !stop.load(Ordering::Relaxed) {
        into.lock().unwrap().extend(rig.tokens(login));
        std::thread::sleep(Duration::from_millis(300));
    }
}

const TTL: u64 = 6;
const CALLS: usize = 12;

/// What five bridges did: each host's summary and stderr, how long it took, and every
/// token keyport held meanwhile.
struct Run {
    summaries: Vec<(Value, String)>,
    elapsed: f64,
    tokens: BTreeSet<String>,
}

/// Five hosts, each spawning its own bridge, making CALLS calls a second apart.
fn five_bridges(rig: &Rig, login: &str) -> Run {
    let stop = AtomicBool::new(false);
    let seen = Mutex::new(BTreeSet::new());
    let started = Instant::now();
    let calls = CALLS.to_string();
    let summaries = std::thread::scope(|s| {
        s.spawn(|| collect_tokens(rig, login, &stop, &seen));
        let hosts: Vec<_> = (0..5)
            .map(|_| {
                s.spawn(|| rig.host("remote", "alice", &["--calls", &calls, "--interval", "1"]))
            })
            .collect();
        let done = hosts.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        done
    });
    Run {
        summaries,
        elapsed: started.elapsed().as_secs_f64(),
        tokens: seen.into_inner().unwrap(),
    }
}

/// The refreshes the run cost at the authorization server, checked: one per token at its
/// renewal time whatever the number of bridges, no reuse, the grant whole. Returns the
/// refreshes, their bound and the tokens the server accepted.
fn one_refresh_per_token(rig: &Rig, before: &Value, elapsed: f64) -> (u64, u64, u64) {
    let after = rig.idp.stats();
    let delta = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
    let refreshes = after["token"]["refresh_token"].as_u64().unwrap_or(0)
        - before["token"]["refresh_token"].as_u64().unwrap_or(0);
    // keyport renews a token once, when it is within min(60 s, half its life) of expiry
    // (with 1 h tokens: once per lifetime; with these 6 s ones, every 3 s), for every
    // bridge at once: at most one refresh per TTL/2 - 1 s (whole-second rounding) of the
    // run, and one more at its edge, whatever the number of bridges.
    let bound = (elapsed / (TTL as f64 / 2.0 - 1.0)).ceil() as u64 + 1;
    assert!(
        refreshes >= 2,
        "the run crossed several expiries: {refreshes} refreshes"
    );
    assert!(
        refreshes <= bound,
        "{refreshes} refreshes in {elapsed:.1} s, at most {bound}"
    );
    // Every token the server accepted came from one of those refreshes (or the login).
    let accepted = rig.remote.stats()["token_fingerprints"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert!(
        accepted <= refreshes + 1,
        "{accepted} tokens for {refreshes} refreshes"
    );
    assert_eq!(delta("refresh_reuse_detected"), 0, "{after}");
    assert_eq!(delta("grants_revoked"), 0, "{after}");
    assert_eq!(
        after["token_errors"]["refresh_token"],
        before["token_errors"]["refresh_token"]
    );
    (refreshes, bound, accepted)
}

/// The way hosts do it today: five processes, each with its own copy of one login (bob's,
/// revealed), refreshing on their own. naive_hosts.py's summary.
fn five_copies(rig: &Rig, added: &Value) -> Value {
    let bob = rig.login(added, "bob");
    let refresh_token = rig.tokens(&bob)[1].clone();
    let out = std::process::Command::new(peers::python_v3())
        .arg(peers::dir().join("mcp/naive_hosts.py"))
        // `--name=value`: a generated token or id may begin with '-'.
        .arg(format!("--token-url={}/token", rig.idp.issuer))
        .arg(format!(
            "--client-id={}",
            added["clientId"].as_str().unwrap()
        ))
        .arg(format!("--refresh-token={refresh_token}"))
        .arg(format!("--resource={}", rig.remote.url))
        .args(["--processes", "5"])
        .arg(format!("--stats-url={}/__stats", rig.idp.issuer))
        .output()
        .expect("run naive_hosts.py");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "naive_hosts.py: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn five_bridges_share_one_login_across_expiries_where_five_copies_lose_it() {
    let rig = Rig::start(TTL as u32, &[]);
    let added = rig.add("remote");
    let login = rig.login(&added, "alice");
    let before = rig.idp.stats();
    let run = five_bridges(&rig, &login);
    for (summary, stderr) in &run.summaries {
        assert_eq!(summary["loop"]["successes"], CALLS, "{summary}\n{stderr}");
        assert_eq!(summary["loop"]["failures"], 0, "{summary}");
    }
    let (refreshes, bound, accepted) = one_refresh_per_token(&rig, &before, run.elapsed);
    // The grant lives on: past another expiry, a call still goes through.
    std::thread::sleep(Duration::from_secs(TTL + 1));
    let alive = ["--call", "echo", "--args", r#"{"text": "alive"}"#];
    let (last, _) = rig.host("remote", "alice", &alive);
    assert_eq!(call(&last, "echo")["text"], "alive", "{last}");

    let naive = five_copies(&rig, &added);
    assert_eq!(naive["grant_alive"], false, "{naive}");
    let reused = naive["as_stats"]["refresh_reuse_detected"].as_u64();
    assert!(reused >= Some(1), "{naive}");
    println!(
        "5 bridges through keyport: {} calls over {:.1} s, tokens living {TTL} s: \
         {refreshes} refreshes (bound {bound}), {accepted} tokens seen by the server, 0 reuse, \
         grant alive; 5 hosts holding copies: {} refreshes at once, {} refused, reuse \
         detected {}, grant alive: {}",
        5 * CALLS,
        run.elapsed,
        naive["round1"]["requests"],
        naive["round1"]["refused"],
        naive["as_stats"]["refresh_reuse_detected"],
        naive["grant_alive"],
    );

    let secrets: Vec<String> = run.tokens.into_iter().collect();
    assert!(secrets.len() >= 4, "tokens collected: {}", secrets.len());
    let mut texts: Vec<String> = run
        .summaries
        .iter()
        .map(|(s, e)| format!("{s}\n{e}"))
        .collect();
    texts.push(rig.server.log());
    let places: Vec<(&str, &str)> = texts
        .iter()
        .map(|t| ("host or keyport log", t.as_str()))
        .collect();
    let found = leaks(&rig.server.dir, &places, &secrets);
    assert!(found.is_empty(), "a token leaked: {found:?}");
}
