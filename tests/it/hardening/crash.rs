//! Crash safety: keyport is SIGKILLed at random moments (≥ 200 times) while clients stream
//! acknowledged writes (new connections) and token refreshes (OAUTH2 connections whose
//! tokens expire every second, against a token endpoint that rotates refresh tokens and
//! revokes a family when a spent one is replayed). After every kill, a copy of the files as
//! the crash left them passes `PRAGMA integrity_check` and holds every acknowledged row;
//! after every restart, each connection acknowledged in the last run reveals exactly what
//! was acknowledged, and every OAUTH2 connection either holds the newest refresh token its
//! family was issued (never an older one than a caller already saw) or is EXPIRED. At the
//! end every acknowledged connection reveals again.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::testidp;
use super::token_server::TokenServer;
use crate::common::idp::{oauth_connection_try, write_testidp};
use crate::common::{PASSPHRASE, Server, agent};

/// Kills per run; `KEYPORT_CRASH_KILLS` overrides it for local experiments.
const KILLS: usize = 200;
/// Give up (and fail) past this. On 2 idle cores a run takes about 3 minutes; the margin is
/// for a CI machine also running the rest of the suite.
const BUDGET: Duration = Duration::from_secs(420);
const OAUTH_CONNECTIONS: usize = 6;

/// `(family, index)` from a token named by the token server (`…-rt-{family}-{n}-{salt}`).
fn token_position(token: &str) -> (usize, usize) {
    let parts: Vec<&str> = token.rsplit('-').collect();
    (parts[2].parse().unwrap(), parts[1].parse().unwrap())
}

#[derive(Clone, Debug, Default)]
struct OAuthConn {
    /// The token family (known after the first successful read).
    family: Option<usize>,
    /// The newest refresh-token index a caller has seen: it must never be rolled back.
    acked: Option<usize>,
    expired: bool,
}

#[derive(Default)]
struct Acked {
    /// Connection id → the token acknowledged with a 200.
    tokens: BTreeMap<String, String>,
    /// Acknowledged since the last restart (checked by reveal after it).
    recent: Vec<String>,
    oauth: BTreeMap<String, OAuthConn>,
    unexpected: Vec<String>,
}

/// Where and as whom a client thread calls: the server's URL and its admin key.
struct Client {
    base: String,
    key: String,
}

fn client(server: &Server) -> Client {
    Client {
        base: server.url.clone(),
        key: server.admin.clone(),
    }
}

/// One call; `None` when the server is gone.
fn send(c: &Client, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    let agent = agent();
    let url = format!("{}{path}", c.base);
    let result = match (method, body) {
        ("POST", Some(b)) => agent.post(&url).header("x-api-key", &c.key).send_json(b),
        _ => agent.get(&url).header("x-api-key", &c.key).call(),
    };
    let mut response = result.ok()?;
    let status = response.status().as_u16();
    let value = response.body_mut().read_json::<Value>().ok()?;
    Some((status, value))
}

fn unexpected(acked: &Mutex<Acked>, what: String) {
    acked.lock().unwrap().unexpected.push(what);
}

/// Creates connections until the server dies.
fn writer(c: Client, integration: String, counter: Arc<AtomicUsize>, acked: Arc<Mutex<Acked>>) {
    loop {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let token = format!("crash-token-{n:06}");
        let body = json!({"integrationId": integration, "userUuid": format!("w{}", n % 7), "data": {"token": token}});
        match send(&c, "POST", "/api/v1/connectedAccounts", Some(&body)) {
            Some((200, v)) => {
                let id = v["connectedAccountId"].as_str().unwrap().to_string();
                let mut a = acked.lock().unwrap();
                a.tokens.insert(id.clone(), token);
                a.recent.push(id);
            }
            Some((status, v)) => unexpected(&acked, format!("create -> {status} {v}")),
            None => return,
        }
    }
}

/// Reads (and so refreshes) the OAUTH2 connections, and replaces expired ones, until the
/// server dies.
fn refresher(c: Client, integration: Value, acked: Arc<Mutex<Acked>>, codes: Arc<AtomicUsize>) {
    loop {
        let live: Vec<String> = {
            let a = acked.lock().unwrap();
            a.oauth
                .iter()
                .filter(|(_, c)| !c.expired)
                .map(|(id, _)| id.clone())
                .collect()
        };
        if live.len() < OAUTH_CONNECTIONS {
            let code = format!("code-{}", codes.fetch_add(1, Ordering::SeqCst));
            match oauth_connection_try(&c.base, &c.key, &integration, "oauth", &code) {
                Some((200, id)) => {
                    acked.lock().unwrap().oauth.insert(id, OAuthConn::default());
                }
                Some((status, id)) => {
                    let mut a = acked.lock().unwrap();
                    a.unexpected.push(format!("callback for {id} -> {status}"));
                    return;
                }
                None => return,
            }
            continue;
        }
        for id in live {
            match send(
                &c,
                "GET",
                &format!("/api/v1/connectedAccounts/{id}/credentials"),
                None,
            ) {
                Some((200, v)) => {
                    let rt = v["credentials"]["refresh_token"]
                        .as_str()
                        .unwrap_or_default();
                    let (family, n) = token_position(rt);
                    let mut a = acked.lock().unwrap();
                    let c = a.oauth.get_mut(&id).unwrap();
                    assert!(
                        c.family.is_none_or(|f| f == family),
                        "{id} changed token family"
                    );
                    c.family = Some(family);
                    c.acked = Some(c.acked.map_or(n, |m| m.max(n)));
                }
                Some((409, _)) => acked.lock().unwrap().oauth.get_mut(&id).unwrap().expired = true,
                Some((status, v)) => unexpected(&acked, format!("reveal -> {status} {v}")),
                None => return,
            }
        }
    }
}

/// The files exactly as the crash left them, checked on a copy so keyport's own recovery
/// at the next start is what the next run exercises. Returns the connection ids on disk.
fn check_files(dir: &Path, scratch: &Path) -> HashSet<String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).unwrap();
    for name in ["keyport.db", "keyport.db-wal", "keyport.db-shm"] {
        if dir.join(name).exists() {
            std::fs::copy(dir.join(name), scratch.join(name)).unwrap();
        }
    }
    let conn = rusqlite::Connection::open(scratch.join("keyport.db")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut stmt = conn.prepare("SELECT id FROM connections").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The connection ids stored when `server` was killed: on SQLite, in a copy of its files
/// (`check_files`); on PostgreSQL, in its database (whose recovery is the server's own).
fn on_disk(server: &Server, scratch: &Path) -> HashSet<String> {
    if server.database().is_some() {
        server
            .sql_strings("SELECT id FROM connections")
            .into_iter()
            .collect()
    } else {
        check_files(&server.dir, scratch)
    }
}

/// After a restart: the OAUTH2 connections hold the newest refresh token of their family,
/// or are EXPIRED; none went back behind what a caller saw.
fn check_oauth(server: &Server, acked: &Mutex<Acked>, tokens: &TokenServer) {
    let conns: Vec<(String, OAuthConn)> = acked
        .lock()
        .unwrap()
        .oauth
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, c) in conns {
        if c.expired {
            let v = server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None);
            assert_eq!(v["status"], "EXPIRED", "{id} came back from EXPIRED");
            continue;
        }
        let (status, v) = server.call(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            Some(&server.admin),
            None,
        );
        let ledger = tokens.ledger.lock().unwrap();
        match status {
            200 => {
                let rt = v["credentials"]["refresh_token"].as_str().unwrap();
                let (family, n) = token_position(rt);
                let f = &ledger.families[family];
                assert!(!f.revoked, "{id} is ACTIVE on a revoked family");
                assert_eq!(
                    f.refresh_tokens.last().map(String::as_str),
                    Some(rt),
                    "{id} is ACTIVE with a spent refresh token"
                );
                assert!(
                    c.acked.is_none_or(|m| n >= m),
                    "{id} rolled back to refresh token {n}"
                );
                let mut a = acked.lock().unwrap();
                let e = a.oauth.get_mut(&id).unwrap();
                e.family = Some(family);
                e.acked = Some(n);
            }
            409 => {
                let v = server.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None);
                assert_eq!(v["status"], "EXPIRED", "{id}: {v}");
                acked.lock().unwrap().oauth.get_mut(&id).unwrap().expired = true;
            }
            other => panic!("reveal of {id} after restart -> {other} {v}"),
        }
    }
}

/// What the client threads share.
#[derive(Clone, Default)]
struct Shared {
    acked: Arc<Mutex<Acked>>,
    counter: Arc<AtomicUsize>,
    codes: Arc<AtomicUsize>,
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write_or_refresh() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let scratch = tmp.path().join("scratch");
    write_testidp(&dir);
    // Tokens are issued 40 ms before the answer leaves: kills land in that window often.
    let tokens = TokenServer::start_with_delay("crash", Duration::from_millis(40));
    let mut server = Server::start_in(&dir, PASSPHRASE).expect("keyport starts");
    let bearer = server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let bearer = bearer["id"].as_str().unwrap().to_string();
    let oauth = testidp(&server, &tokens, "crash-client-secret");
    let shared = Shared::default();
    let mut seed = u64::from(std::process::id()) ^ started.elapsed().as_nanos() as u64 | 1;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let target: usize = std::env::var("KEYPORT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KILLS);
    let (mut kills, mut revealed) = (0, 0);
    let mut restart_time = Duration::ZERO;
    while kills < target {
        assert!(
            started.elapsed() < BUDGET,
            "only {kills} kills in {BUDGET:?}"
        );
        let pause = Duration::from_millis(10 + random(300));
        load_until_killed(&mut server, &bearer, &oauth, &shared, pause);
        kills += 1;
        nothing_lost(&on_disk(&server, &scratch), &shared.acked, kills);
        let restarting = Instant::now();
        server = Server::start_in(&dir, PASSPHRASE).expect("keyport restarts after SIGKILL");
        restart_time += restarting.elapsed();
        revealed += reveal_recent(&server, &shared.acked, &mut random);
        check_oauth(&server, &shared.acked, &tokens);
    }
    let (opened, unacked) = everything_opens(&server, &shared.acked);
    let audit = server.ok("GET", "/api/v1/audit/verify", None);
    assert_eq!(
        audit["intact"], true,
        "the audit chain after {kills} SIGKILLs: {audit}"
    );
    let stored = match server.database() {
        Some(_) => "stored in PostgreSQL".to_string(),
        None => format!("integrity_check ok {kills}/{kills}"),
    };
    let a = shared.acked.lock().unwrap();
    let ledger = tokens.ledger.lock().unwrap();
    println!(
        "{kills} SIGKILLs in {:.0} s (restarts {:.0} s): {} acknowledged writes, 0 lost: all on disk after every kill, {revealed} revealed right after their restart, all {opened} revealed at the end ({unacked} of them unacknowledged but committed); {stored}; audit chain intact over {} records; {} refreshes ({} OAuth connections, {} EXPIRED after a refresh response was lost in a crash, {} spent refresh tokens replayed), 0 ACTIVE with a spent refresh token",
        started.elapsed().as_secs_f64(),
        restart_time.as_secs_f64(),
        a.tokens.len(),
        audit["records"],
        ledger.refreshes,
        a.oauth.len(),
        a.oauth.values().filter(|c| c.expired).count(),
        ledger.replays,
    );
}

/// Two writers and a refresher run against `server` until it is SIGKILLed after `pause`.
fn load_until_killed(
    server: &mut Server,
    bearer: &str,
    oauth: &Value,
    shared: &Shared,
    pause: Duration,
) {
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (c, i, s) = (client(server), bearer.to_string(), shared.clone());
        threads.push(std::thread::spawn(move || writer(c, i, s.counter, s.acked)));
    }
    let (c, i, s) = (client(server), oauth.clone(), shared.clone());
    threads.push(std::thread::spawn(move || {
        refresher(c, i, s.acked, s.codes)
    }));
    std::thread::sleep(pause);
    server.kill();
    for t in threads {
        t.join().unwrap();
    }
}

/// Every acknowledged connection is on disk, and no client saw an unexpected answer.
fn nothing_lost(on_disk: &HashSet<String>, acked: &Mutex<Acked>, kills: usize) {
    let a = acked.lock().unwrap();
    assert!(a.unexpected.is_empty(), "{:?}", a.unexpected);
    let lost: Vec<&String> = a
        .tokens
        .keys()
        .chain(a.oauth.keys())
        .filter(|id| !on_disk.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "after kill {kills}: acknowledged connections lost: {lost:?}"
    );
}

/// Every acknowledged row was on disk; after the restart, the last writes before the kill
/// (the WAL's tail) and two random earlier ones must also open. All of them are opened at
/// the end. Returns how many were revealed.
fn reveal_recent(
    server: &Server,
    acked: &Mutex<Acked>,
    random: &mut impl FnMut(u64) -> u64,
) -> usize {
    let recent: Vec<(String, String)> = {
        let mut a = acked.lock().unwrap();
        let mut ids = std::mem::take(&mut a.recent);
        let mut sample = ids.split_off(ids.len().saturating_sub(3));
        for _ in 0..2 {
            if !ids.is_empty() {
                let pick = random(ids.len() as u64) as usize;
                sample.push(ids.swap_remove(pick));
            }
        }
        sample
            .into_iter()
            .map(|id| (a.tokens[&id].clone(), id))
            .collect()
    };
    for (token, id) in &recent {
        let v = server.ok(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            None,
        );
        assert_eq!(v["credentials"]["token"], token.as_str(), "{id}");
    }
    recent.len()
}

/// The end: every acknowledged connection (and any unacknowledged one that made it)
/// opens. Returns how many opened and how many of those were never acknowledged.
fn everything_opens(server: &Server, acked: &Mutex<Acked>) -> (usize, usize) {
    let a = acked.lock().unwrap();
    let list = server.ok(
        "GET",
        "/api/v1/connectedAccounts?showActiveOnly=false",
        None,
    );
    let items = list["items"].as_array().unwrap();
    let mut opened = 0;
    for item in items {
        let id = item["id"].as_str().unwrap();
        if item["authScheme"] != "BEARER_TOKEN" {
            continue;
        }
        let v = server.ok(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            None,
        );
        if let Some(token) = a.tokens.get(id) {
            assert_eq!(v["credentials"]["token"], token.as_str());
        }
        opened += 1;
    }
    let present: HashSet<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(a.tokens.keys().all(|id| present.contains(id.as_str())));
    (opened, opened - a.tokens.len())
}
