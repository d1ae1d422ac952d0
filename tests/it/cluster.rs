//! Several `keyport serve` instances on one PostgreSQL database (a PostgreSQL run only:
//! `KEYPORT_TEST_DATABASE_URL`), against the real authorization server: a flow started on
//! one instance completes on another, 500 concurrent uses of an expired token spread over
//! three instances make exactly one refresh, a key revoked on one is refused by another
//! within the documented bound, the audit log stays one chain, and a SIGKILLed instance
//! loses no acknowledged write while the others keep serving.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::database;
use crate::common::idp::write_testidp;
use crate::common::peers::{OidcProvider, drive};
use crate::common::{Launch, Server};
use crate::oauth::{CLIENT_ID, CLIENT_SECRET, oauth_integration};

/// How soon a change made on one instance reaches the others (README, "Several
/// instances"): their notification normally arrives within milliseconds.
const BOUND: Duration = Duration::from_secs(2);

/// The database's URL, or `None` (and why) when this run is on SQLite.
fn postgres_run(test: &str) -> bool {
    let on = database::server().is_some();
    if !on {
        eprintln!("{test}: several instances need PostgreSQL (KEYPORT_TEST_DATABASE_URL)");
    }
    on
}

/// Another instance serving `first`'s database: a data dir of its own (its own
/// `server.url`) holding `testidp` and `first`'s admin key, reached as `public` if given.
fn instance_of(first: &Server, public: Option<&str>) -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("data dir");
    write_testidp(&dir);
    copy_private(&first.dir.join("admin.key"), &dir.join("admin.key"));
    let database = first
        .database()
        .expect("a PostgreSQL run")
        .url()
        .to_string();
    let mut launch = Launch::default().env("KEYPORT_DATABASE_URL", &database);
    if let Some(public) = public {
        launch = launch.env("KEYPORT_PUBLIC_URL", public);
    }
    let mut server = launch
        .start_in(&dir)
        .unwrap_or_else(|out| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    server.keep(tmp);
    server
}

fn copy_private(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(from, to).expect("copy the admin key");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).expect("0600");
}

/// Polls `done` until it holds, at most `within`; how long it took.
fn within(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// `b` serving plainly, `a` and `c` on the same database reached as `b` (as a load
/// balancer would send browsers to any of them; here, to `b`).
fn three() -> [Arc<Server>; 3] {
    let b = crate::common::idp::server_with_testidp(&Launch::default());
    let a = instance_of(&b, Some(&b.url));
    let c = instance_of(&b, Some(&b.url));
    [Arc::new(a), Arc::new(b), Arc::new(c)]
}

#[test]
fn three_instances_share_flows_refreshes_keys_and_one_audit_chain() {
    if !postgres_run("three_instances") {
        return;
    }
    let [a, b, c] = three();
    let idp = OidcProvider::start(
        (CLIENT_ID, CLIENT_SECRET),
        &format!("{}/callback/testidp", b.url),
        Some(ACCESS_TTL_S),
    );
    let integration = oauth_integration(&a, &idp, json!({"base_url": idp.issuer}));

    // Started on A; the browser is sent to B, whose callback completes the flow.
    let created =
        a.create_connection(json!({"integrationId": integration, "userUuid": "alice", "data": {}}));
    let id = created["connectedAccountId"].as_str().unwrap().to_string();
    let link = created["redirectUrl"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/connect/", b.url)),
        "{created}"
    );
    drive(link, &["--expect-text", "Connected"]);
    within("A sees the connection ACTIVE", BOUND, || {
        a.connection(&id)["status"] == "ACTIVE"
    });

    one_refresh_for_500_uses_over_three(&[&a, &b, &c], &idp, &id);
    revoked_on_a_refused_by_c(&a, &c, &id);

    let verdict = c.ok("GET", "/api/v1/audit/verify", None);
    assert_eq!(verdict["intact"], true, "{verdict}");
    assert!(verdict["records"].as_u64().unwrap() >= 500, "{verdict}");
}

/// The access token's lifetime at the provider, in seconds.
const ACCESS_TTL_S: u32 = 4;

/// Lets the 4-second access token lapse, then 500 uses at once, a third on each instance:
/// one refresh for the lapsed token. A token is renewed again at half its lifetime, so on a
/// machine slow enough that the uses outlast 2 s a second refresh is due; the rule checked
/// is therefore one refresh per token: the first at once, any other about half a lifetime
/// after the one before (two instances renewing the same token would be
/// milliseconds apart, and the provider, which rotates refresh tokens, would refuse one).
fn one_refresh_for_500_uses_over_three(servers: &[&Arc<Server>; 3], idp: &OidcProvider, id: &str) {
    std::thread::sleep(Duration::from_secs(u64::from(ACCESS_TTL_S) + 1));
    let before = idp.token_calls("refresh_token");
    let act = json!({"connectedAccountId": id, "endpoint": "/me", "method": "GET"});
    let uses: Vec<_> = (0..500)
        .map(|i| {
            let (server, act) = (Arc::clone(servers[i % 3]), act.clone());
            std::thread::spawn(move || server.proxy(act))
        })
        .collect();
    for used in uses {
        let (status, answer) = used.join().unwrap();
        assert_eq!((status, &answer["status"]), (200, &json!(200)), "{answer}");
    }
    let stats = idp.stats();
    let made = stats["token"]["refresh_token"].as_u64().unwrap() - before;
    // The newest `made` refreshes of the provider's request log (which keeps the last 1,000).
    let mut refreshes = refresh_times(&stats);
    let refreshes = refreshes.split_off(refreshes.len() - usize::try_from(made).unwrap());
    assert!(
        !refreshes.is_empty(),
        "the lapsed token was not refreshed: {stats}"
    );
    // Expiry times are kept in whole seconds, so a renewal at half-life can come up to a
    // second early; a second renewal of one token would come milliseconds after the first.
    let apart_ms = i128::from(ACCESS_TTL_S) * 1000 / 2 - 1000;
    for pair in refreshes.windows(2) {
        assert!(
            pair[1] - pair[0] >= apart_ms,
            "one token refreshed twice ({} ms apart) for 500 uses over three instances: {stats}",
            pair[1] - pair[0]
        );
    }
    assert_eq!(stats["token_errors"]["refresh_token"], 0, "{stats}");
    assert_eq!(stats["refresh_reuse_detected"], 0, "{stats}");
    println!(
        "500 uses over 3 instances: {} refresh(es), one per token, 0 refresh tokens refused",
        refreshes.len()
    );
}

/// When the provider logged each `refresh_token` grant in `stats`, in ms since the epoch,
/// oldest first.
fn refresh_times(stats: &Value) -> Vec<i128> {
    stats["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["endpoint"] == "token" && r["grant_type"] == "refresh_token")
        .map(|r| {
            let at = r["at"].as_str().unwrap();
            let at =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
            at.unix_timestamp_nanos() / 1_000_000
        })
        .collect()
}

fn revoked_on_a_refused_by_c(a: &Server, c: &Server, id: &str) {
    let created = a.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "agent", "permission": "use"})),
    );
    let (key, key_id) = (
        created["key"].as_str().unwrap(),
        created["id"].as_str().unwrap(),
    );
    let path = format!("/api/v1/connectedAccounts/{id}");
    let status = |server: &Server| server.call("GET", &path, Some(key), None).0;
    within("a key made on A works on C", BOUND, || status(c) == 200);
    a.ok("DELETE", &format!("/api/v1/keys/{key_id}"), None);
    let took = within("a key revoked on A is refused by C", BOUND, || {
        status(c) == 401
    });
    assert_eq!(status(a), 401);
    println!("a key revoked on A was refused by C after {took:?}");
}

/// A BEARER_TOKEN integration on `server` whose connections the writers create.
fn bearer_integration(server: &Server) -> String {
    let created = server.integration(json!({
        "appName": "github", "authScheme": "BEARER_TOKEN",
        "authConfig": {"base_url": "http://127.0.0.1:9"}
    }));
    created["id"].as_str().unwrap().to_string()
}

/// Creates connections on `server` until `stop`; the ids it was told were created.
fn writer(
    server: Arc<Server>,
    integration: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<String> {
    let mut acknowledged = Vec::new();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        n += 1;
        let body = json!({"integrationId": integration, "userUuid": format!("u{n}"),
            "data": {"token": format!("token-{n}")}});
        let (status, created) = server.as_admin("POST", "/api/v1/connectedAccounts", Some(&body));
        if status == 200 {
            acknowledged.push(created["connectedAccountId"].as_str().unwrap().to_string());
        }
    }
    acknowledged
}

#[test]
fn a_killed_instance_loses_no_acknowledged_write_and_the_other_serves_on() {
    if !postgres_run("a_killed_instance") {
        return;
    }
    let b = crate::common::idp::server_with_testidp(&Launch::default());
    let mut a = instance_of(&b, None);
    let b = Arc::new(b);
    let integration = bearer_integration(&b);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_b = {
        let (b, integration, stop) = (Arc::clone(&b), integration.clone(), Arc::clone(&stop));
        std::thread::spawn(move || writer(b, integration, stop))
    };
    // A's writes go through its own thread; A is killed under them.
    let (url, admin) = (a.url.clone(), a.admin.clone());
    let on_a = std::thread::spawn(move || {
        let agent = crate::common::agent();
        let mut acknowledged = Vec::new();
        for n in 0.. {
            let body = json!({"integrationId": integration, "userUuid": format!("a{n}"),
                "data": {"token": format!("a-token-{n}")}});
            let sent = agent
                .post(format!("{url}/api/v1/connectedAccounts"))
                .header("x-api-key", &admin)
                .send_json(&body);
            // Killed: the connection drops, and nothing after it was acknowledged.
            let Ok(mut answer) = sent else { break };
            let created: Value = answer.body_mut().read_json().expect("JSON");
            assert_eq!(answer.status().as_u16(), 200, "{created}");
            acknowledged.push(created["connectedAccountId"].as_str().unwrap().to_string());
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(1500));
    a.kill();
    let from_a = on_a.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let from_b = on_b.join().unwrap();
    assert!(!from_a.is_empty() && !from_b.is_empty(), "both wrote");
    for id in from_a.iter().chain(&from_b) {
        let found: Value = b.connection(id);
        assert_eq!(found["id"], id.as_str(), "acknowledged {id} is stored");
    }
    assert_eq!(b.call("GET", "/healthz", None, None).0, 200);
    println!(
        "SIGKILL during writes: {} + {} acknowledged, all stored, the survivor serving",
        from_a.len(),
        from_b.len()
    );
}

/// An instance killed while its refresh is at the authorization server (which does not
/// rotate refresh tokens, so it keeps the login whatever happens to that answer): the
/// renewal lock dies with it, the other instance renews in its place, and the login lives.
#[test]
fn a_login_outlives_an_instance_killed_mid_refresh() {
    if !postgres_run("a_login_outlives") {
        return;
    }
    let b = crate::common::idp::server_with_testidp(&Launch::default());
    let mut a = instance_of(&b, Some(&b.url));
    let (idp, _) = OidcProvider::start_config(&json!({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_uris": [format!("{}/callback/testidp", b.url)],
        "access_ttl": 3, "rotate_refresh_tokens": false,
    }));
    let integration = oauth_integration(&a, &idp, json!({"base_url": idp.issuer}));
    let created =
        a.create_connection(json!({"integrationId": integration, "userUuid": "bob", "data": {}}));
    let id = created["connectedAccountId"].as_str().unwrap().to_string();
    drive(
        created["redirectUrl"].as_str().unwrap(),
        &["--expect-text", "Connected"],
    );

    std::thread::sleep(Duration::from_secs(4));
    idp.configure(&json!({"refresh_delay_ms": 3000}));
    let refreshes = idp.token_calls("refresh_token");
    let act = json!({"connectedAccountId": id, "endpoint": "/me", "method": "GET"});
    let (url, admin, body) = (a.url.clone(), a.admin.clone(), act.clone());
    let on_a = std::thread::spawn(move || {
        let sent = crate::common::agent()
            .post(format!("{url}/api/v2/actions/proxy"))
            .header("x-api-key", &admin)
            .send_json(&body);
        sent.map(|answer| answer.status().as_u16()).ok()
    });
    within(
        "A's refresh reached the server",
        Duration::from_secs(10),
        || idp.token_calls("refresh_token") > refreshes,
    );
    a.kill();
    assert_eq!(on_a.join().unwrap(), None, "A died before answering");
    idp.configure(&json!({"refresh_delay_ms": 0}));

    let (status, acted) = b.proxy(act);
    assert_eq!((status, &acted["status"]), (200, &json!(200)), "{acted}");
    assert_eq!(b.connection(&id)["status"], "ACTIVE");
    let stats = idp.stats();
    assert_eq!(stats["token_errors"]["refresh_token"], 0, "{stats}");
    println!(
        "killed mid-refresh: {} refresh(es) in all, the login lives on B",
        idp.token_calls("refresh_token") - refreshes
    );
}
