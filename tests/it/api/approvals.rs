//! Keys whose writes wait for the user: a read passes without asking; a write waits, is
//! listed with what it would send (secrets masked), and reaches the provider once if
//! approved, never if denied, timed out, or left waiting when the server stopped. Every
//! step is in the audit log.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::stand_in::Upstream;
use crate::common::{Launch, Server, call, error_message};

const TOKEN: &str = "ghp_approvalCANARY0123456789abcdef";
/// How long a held request waits in these tests.
const TIMEOUT_MS: u64 = 4000;
/// How long it waits in the browser test: Chromium's start on a loaded machine can take
/// longer than `TIMEOUT_MS`, and the request must still be waiting when the click comes.
const BROWSER_TIMEOUT_MS: u64 = 60_000;

fn server_waiting(ms: u64) -> Server {
    Launch::default()
        .env("KEYPORT_APPROVAL_TIMEOUT_MS", &ms.to_string())
        .start()
}

/// A server, a GitHub stand-in, and alice's connection to it with the canary token.
fn setup() -> (Server, Upstream, String) {
    setup_waiting(TIMEOUT_MS)
}

fn setup_waiting(ms: u64) -> (Server, Upstream, String) {
    let server = server_waiting(ms);
    let upstream = Upstream::ok();
    let connection = server.bearer("github", &upstream.base, "alice", TOKEN);
    (server, upstream, connection)
}

/// A new `use` key named careful-agent, with `extra` in its creation body.
fn key(server: &Server, extra: Value) -> Value {
    let mut body = json!({"name": "careful-agent", "permission": "use"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    server.ok("POST", "/api/v1/keys", Some(&body))
}

/// A POST through `key` in the background: its status and answer.
fn post_in_background(server: &Server, key: &str, connection: &str) -> JoinHandle<(u16, Value)> {
    let (url, key) = (server.url.clone(), key.to_string());
    let body = json!({"connectedAccountId": connection, "method": "POST", "endpoint": "/repos?draft=1",
        "body": {"name": "demo", "note": format!("token {TOKEN}")}});
    std::thread::spawn(move || {
        call(
            &url,
            "POST",
            "/api/v2/actions/proxy",
            Some(&key),
            Some(&body),
        )
    })
}

/// The one pending request, once it is listed.
fn pending(server: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = server.ok("GET", "/api/v1/approvals", None);
        if let Some(first) = listed["items"].as_array().and_then(|a| a.first()) {
            assert_eq!(
                listed["items"].as_array().map(Vec::len),
                Some(1),
                "{listed}"
            );
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no request became pending");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn cli(server: &Server, args: &[&str]) -> (bool, String) {
    let out = Launch::default()
        .command(&server.dir)
        .args(args)
        .output()
        .expect("keyport");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn posts(upstream: &Upstream) -> usize {
    upstream
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// `waiting`'s answer: a 403 whose message says `why`.
fn refused(waiting: JoinHandle<(u16, Value)>, why: &str) {
    let (status, answer) = waiting.join().unwrap();
    assert_eq!(status, 403, "{answer}");
    assert!(error_message(&answer).contains(why), "{answer}");
}

#[test]
fn writes_wait_for_the_user_and_reach_the_provider_only_when_approved() {
    let (mut server, upstream, connection) = setup();
    let created = key(&server, json!({"entityId": "alice", "approval": "writes"}));
    assert_eq!(created["approval"], "writes");
    let key = created["key"].as_str().unwrap().to_string();

    let read = json!({"connectedAccountId": connection, "method": "GET", "endpoint": "/user"});
    let (status, answer) = server.call("POST", "/api/v2/actions/proxy", Some(&key), Some(&read));
    assert_eq!(
        (status, answer["status"].as_i64()),
        (200, Some(200)),
        "a read does not wait: {answer}"
    );

    approved_is_sent_once_after_the_answer(&server, &upstream, &key, &connection);

    // Denied: a 403 that says so, nothing sent.
    let waiting = post_in_background(&server, &key, &connection);
    let (ok, text) = cli(&server, &["deny", pending(&server)["id"].as_str().unwrap()]);
    assert!(ok && text.contains("denied"), "{text}");
    refused(waiting, "denied");

    // Nobody answers: refused at the timeout.
    refused(
        post_in_background(&server, &key, &connection),
        "did not answer",
    );
    assert_eq!(
        posts(&upstream),
        1,
        "denied and timed-out requests never reach the provider"
    );

    refused_when_the_server_stops(&mut server, &upstream, &key, &connection);
    every_answer_is_audited(&server);
}

/// Approved: listed with what it would send (the token masked), sent once, after the answer.
fn approved_is_sent_once_after_the_answer(
    server: &Server,
    upstream: &Upstream,
    key: &str,
    connection: &str,
) {
    let waiting = post_in_background(server, key, connection);
    let held = pending(server);
    assert_eq!(posts(upstream), 0, "nothing is sent while it waits");
    assert_eq!(
        (held["keyName"].as_str(), held["entityId"].as_str()),
        (Some("careful-agent"), Some("alice"))
    );
    assert_eq!(
        (held["method"].as_str(), held["path"].as_str()),
        (Some("POST"), Some("/repos"))
    );
    assert_eq!(
        (held["app"].as_str(), held["host"].as_str()),
        (Some("github"), Some("127.0.0.1"))
    );
    let body = held["body"].as_str().unwrap();
    assert!(
        body.contains("demo") && body.contains("********") && !body.contains(TOKEN),
        "{body}"
    );
    let (ok, text) = cli(server, &["approve", held["id"].as_str().unwrap()]);
    assert!(ok && text.contains("approved"), "{text}");
    let (status, answer) = waiting.join().unwrap();
    assert_eq!(
        (status, answer["status"].as_i64()),
        (200, Some(200)),
        "{answer}"
    );
    assert_eq!(posts(upstream), 1);
}

/// The server stops while one waits: refused, recorded, and gone after the restart.
fn refused_when_the_server_stops(
    server: &mut Server,
    upstream: &Upstream,
    key: &str,
    connection: &str,
) {
    let waiting = post_in_background(server, key, connection);
    pending(server);
    server.restart();
    refused(waiting, "server stopped");
    assert_eq!(posts(upstream), 1);
    assert_eq!(
        server.ok("GET", "/api/v1/approvals", None)["items"],
        json!([])
    );
    let (ok, text) = cli(server, &["approvals"]);
    assert!(ok && text.contains("no request is waiting"), "{text}");
}

/// The four requests asked, and how each was answered, in the audit log.
fn every_answer_is_audited(server: &Server) {
    let audit = server.ok("GET", "/api/v1/audit", None);
    let of = |event: &str| -> Vec<Value> {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["event"] == event)
            .cloned()
            .collect()
    };
    let outcomes: Vec<String> = of("approval.answered")
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert_eq!(&outcomes[..3], ["approved", "denied", "timed out"]);
    assert_eq!(outcomes[3], "refused: the server stopped");
    assert_eq!(of("approval.asked").len(), 4);
}

#[test]
fn only_admins_answer_and_keys_without_approval_do_not_wait() {
    let (server, _upstream, connection) = setup();
    let plain = key(&server, json!({}));
    assert_eq!(plain["approval"], "none");
    let key = plain["key"].as_str().unwrap();
    let (status, answer) = post_in_background(&server, key, &connection)
        .join()
        .unwrap();
    assert_eq!(
        (status, answer["status"].as_i64()),
        (200, Some(200)),
        "{answer}"
    );
    for (method, path) in [
        ("GET", "/api/v1/approvals"),
        ("POST", "/api/v1/approvals/x/approve"),
    ] {
        assert_eq!(
            server.call(method, path, Some(key), None).0,
            403,
            "{method} {path}"
        );
    }
    assert_eq!(
        server
            .as_admin("POST", "/api/v1/approvals/nope/deny", None)
            .0,
        404
    );
    let (status, answer) = server.as_admin(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "x", "approval": "sometimes"})),
    );
    assert_eq!(status, 400, "{answer}");
}

/// The page's link, which only the admin key gets; the empty page says nothing waits, under
/// a strict content security policy.
fn page_link(server: &Server, key: &str) -> String {
    assert_eq!(
        server
            .call("POST", "/api/v1/approvals/page", Some(key), None)
            .0,
        403
    );
    let link = server.ok("POST", "/api/v1/approvals/page", None);
    let url = link["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/approvals/", server.url)),
        "{url}"
    );

    let empty = crate::common::agent().get(&url).call().unwrap();
    let csp = empty
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        empty
            .into_body()
            .read_to_string()
            .unwrap()
            .contains("Nothing is waiting")
    );
    url
}

/// Clicks `button` on the page at `url`; the page then says nothing waits.
fn click(url: &str, button: &str) -> Value {
    let clicked = crate::common::peers::click(url, "careful-agent", button);
    assert!(
        clicked["text"]
            .as_str()
            .unwrap()
            .contains("Nothing is waiting"),
        "{clicked}"
    );
    clicked
}

#[test]
fn the_local_page_shows_a_held_request_and_answers_it_in_a_browser() {
    let (server, upstream, connection) = setup_waiting(BROWSER_TIMEOUT_MS);
    let created = key(&server, json!({"approval": "writes"}));
    let key = created["key"].as_str().unwrap().to_string();
    let url = page_link(&server, &key);

    // Approved with a click: the agent's write goes through, once.
    let waiting = post_in_background(&server, &key, &connection);
    pending(&server);
    let clicked = click(&url, "button.approve");
    assert!(
        clicked["before"]
            .as_str()
            .unwrap()
            .contains("POST 127.0.0.1/repos"),
        "{clicked}"
    );
    assert!(
        !clicked["before"].as_str().unwrap().contains(TOKEN),
        "{clicked}"
    );
    assert_eq!(waiting.join().unwrap().0, 200);
    assert_eq!(posts(&upstream), 1);

    let waiting = post_in_background(&server, &key, &connection);
    a_foreign_page_cannot_answer(&server, &url);

    // Denied with a click.
    click(&url, "button.deny");
    let (status, answer) = waiting.join().unwrap();
    assert_eq!(status, 403, "{answer}");
    assert_eq!(posts(&upstream), 1);
}

/// A foreign page cannot answer the pending request (its Origin is refused; without the
/// link it has no page): it is still waiting after.
fn a_foreign_page_cannot_answer(server: &Server, url: &str) {
    let held = pending(server);
    let id = held["id"].as_str().unwrap();
    let answer_url = format!("{url}/{id}/approve");
    let foreign = crate::common::agent()
        .post(&answer_url)
        .header("Origin", "http://evil.example")
        .send_empty()
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let guessed = crate::common::agent()
        .post(&format!(
            "{}/approvals/not-the-token/{id}/approve",
            server.url
        ))
        .send_empty()
        .unwrap();
    assert_eq!(guessed.status(), 404);
    assert_eq!(pending(server)["id"], held["id"], "still waiting");
}

#[test]
fn actions_wait_as_their_definition_says_read_or_write() {
    let (server, upstream, connection) = setup();
    let created = key(&server, json!({"approval": "writes"}));
    let key = created["key"].as_str().unwrap().to_string();
    let read = json!({"connectedAccountId": connection, "input": {}});
    let (status, answer) = server.call(
        "POST",
        "/api/v2/actions/GITHUB_GET_THE_AUTHENTICATED_USER/execute",
        Some(&key),
        Some(&read),
    );
    assert_eq!(status, 200, "a read action does not wait: {answer}");
    let (url, write) = (
        server.url.clone(),
        json!({"connectedAccountId": connection,
            "input": {"owner": "o", "repo": "r", "title": "t"}}),
    );
    let key2 = key.clone();
    let waiting = std::thread::spawn(move || {
        call(
            &url,
            "POST",
            "/api/v2/actions/GITHUB_CREATE_AN_ISSUE/execute",
            Some(&key2),
            Some(&write),
        )
    });
    let held = pending(&server);
    assert_eq!(held["action"], "GITHUB_CREATE_AN_ISSUE", "{held}");
    assert_eq!(posts(&upstream), 0);
    let id = held["id"].as_str().unwrap();
    server.ok("POST", &format!("/api/v1/approvals/{id}/deny"), None);
    assert_eq!(waiting.join().unwrap().0, 403);
    assert_eq!(posts(&upstream), 0, "a denied write action sends nothing");
}
