//! The audit log through the API and the CLI: what a session of uses, refusals and key
//! events leaves (and that no secret, body or query value is in it), its filters and
//! cursor, admin-only reads, and `keyport audit verify` naming the record that someone
//! edited, removed or moved in the database while the server was stopped.

use serde_json::{Value, json};

use crate::common::stand_in::Upstream;
use crate::common::{Launch, Server, call};

const CANARY_TOKEN: &str = "ghp_auditCANARY0123456789abcdef";
const CANARY_QUERY: &str = "query-CANARY-4242";

fn records(server: &Server, query: &str) -> Vec<Value> {
    let page = server.ok("GET", &format!("/api/v1/audit{query}"), None);
    page["items"].as_array().expect("items").clone()
}

fn one<'a>(all: &'a [Value], event: &str, key_name: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|r| r["event"] == event && key_name.is_none_or(|k| r["keyName"] == k))
        .collect();
    assert_eq!(found.len(), 1, "one {event} by {key_name:?} in {all:#?}");
    found[0]
}

/// A session on a new server with a GitHub stand-in: an admin makes a use key for alice;
/// the agent proxies once (with a query that must not be recorded), tries to read the
/// credential, and an unknown key knocks; the admin reads the credential and revokes the
/// agent's key. Returns the server, the stand-in, the connection and the agent's key id.
fn session() -> (Server, Upstream, String, String) {
    let server = Server::start();
    let upstream = Upstream::ok();
    let connection = server.bearer("github", &upstream.base, "alice", CANARY_TOKEN);
    let created = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "agent", "permission": "use", "entityId": "alice"})),
    );
    let (key, key_id) = (
        created["key"].as_str().unwrap(),
        created["id"].as_str().unwrap(),
    );
    let body = json!({"connectedAccountId": connection, "method": "GET",
        "endpoint": format!("/user/repos?q={CANARY_QUERY}")});
    let (status, answer) = server.call("POST", "/api/v2/actions/proxy", Some(key), Some(&body));
    assert_eq!(status, 200, "{answer}");
    let credentials = format!("/api/v1/connectedAccounts/{connection}/credentials");
    assert_eq!(server.call("GET", &credentials, Some(key), None).0, 403);
    assert_eq!(
        server
            .call("GET", "/api/v1/apps", Some("kp_not_a_key"), None)
            .0,
        401
    );
    assert_eq!(server.reveal(&connection).0, 200);
    server.ok("DELETE", &format!("/api/v1/keys/{key_id}"), None);
    let key_id = key_id.to_string();
    (server, upstream, connection, key_id)
}

#[test]
fn a_session_leaves_exactly_its_records_and_no_secret() {
    let (server, _upstream, connection, key_id) = session();
    let all = records(&server, "");

    let created = one(&all, "key.created", Some("admin"));
    assert!(
        created["detail"].as_str().unwrap().contains("agent"),
        "{created}"
    );
    assert_eq!(created["entityId"], "alice");
    let proxied = one(&all, "proxy", Some("agent"));
    assert_eq!(proxied["keyId"], key_id.as_str());
    assert_eq!(proxied["entityId"], "alice");
    assert_eq!(proxied["connectionId"], connection.as_str());
    assert_eq!(proxied["app"], "github");
    assert_eq!(proxied["method"], "GET");
    assert_eq!(proxied["host"], "127.0.0.1");
    assert_eq!(proxied["path"], "/user/repos", "no query in a record");
    assert_eq!(
        (proxied["outcome"].as_str(), proxied["status"].as_i64()),
        (Some("ok"), Some(200))
    );
    assert!(proxied["latencyMs"].as_i64().is_some(), "{proxied}");
    let refused = one(&all, "refused", Some("agent"));
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["method"], "GET");
    assert_eq!(
        refused["path"],
        format!("/api/v1/connectedAccounts/{connection}/credentials")
    );
    let unknown = all
        .iter()
        .find(|r| r["event"] == "refused" && r["keyId"].is_null())
        .expect("the unknown key's refusal");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .starts_with("unauthorized"),
        "{unknown}"
    );
    let read = one(&all, "credentials.read", Some("admin"));
    assert_eq!(read["connectionId"], connection.as_str());
    one(&all, "key.revoked", Some("admin"));
    let created = one(&all, "connection.created", None);
    assert_eq!(
        (created["outcome"].as_str(), created["entityId"].as_str()),
        (Some("ACTIVE"), Some("alice"))
    );
    assert_eq!(created["connectionId"], connection.as_str());

    let text = serde_json::to_string(&all).unwrap();
    for secret in [CANARY_TOKEN, CANARY_QUERY, "kp_not_a_key"] {
        assert!(!text.contains(secret), "{secret} is in the audit log");
    }
    let verdict = server.ok("GET", "/api/v1/audit/verify", None);
    assert_eq!(verdict["intact"], true, "{verdict}");
    assert_eq!(verdict["records"].as_u64(), Some(all.len() as u64));
}

#[test]
fn filters_and_the_cursor_walk_the_log_and_only_admins_read_it() {
    let (server, _upstream, connection, key_id) = session();
    let all = records(&server, "");
    let by_key = records(&server, &format!("?keyId={key_id}"));
    assert!(!by_key.is_empty() && by_key.iter().all(|r| r["keyId"] == key_id.as_str()));
    let by_connection = records(&server, &format!("?connectionId={connection}"));
    assert!(
        by_connection
            .iter()
            .all(|r| r["connectionId"] == connection.as_str())
    );
    assert!(by_connection.len() >= 2, "{by_connection:#?}");
    assert!(records(&server, "?since=2999-01-01T00:00:00Z").is_empty());
    assert_eq!(
        records(&server, "?until=2999-01-01T00:00:00Z").len(),
        all.len()
    );

    let (mut walked, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = server.ok("GET", &format!("/api/v1/audit?limit=2{cursor}"), None);
        walked.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].clone()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let seqs: Vec<Value> = all.iter().map(|r| r["seq"].clone()).collect();
    assert_eq!(walked, seqs, "pages of 2 walk every record once, in order");

    let (status, answer) = server.as_admin("GET", "/api/v1/audit?since=yesterday", None);
    assert_eq!(status, 400, "{answer}");
    let reader = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "r", "permission": "reveal"})),
    );
    let key = reader["key"].as_str().unwrap();
    for path in ["/api/v1/audit", "/api/v1/audit/verify"] {
        assert_eq!(
            call(&server.url, "GET", path, Some(key), None).0,
            403,
            "{path}"
        );
    }
}

/// `keyport audit verify` against `server`: its exit code and what it printed.
fn verify_cli(server: &Server) -> (i32, String) {
    let out = Launch::default()
        .command(&server.dir)
        .args(["audit", "verify"])
        .output()
        .expect("keyport audit verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn verify_names_the_record_edited_removed_or_moved_while_the_server_was_stopped() {
    let cases = [
        (
            "UPDATE audit_log SET outcome = 'ok', status = 200 WHERE event = 'refused' AND key_name = 'agent'",
            "altered",
        ),
        (
            "DELETE FROM audit_log WHERE event = 'credentials.read'",
            "missing",
        ),
        (
            "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3); UPDATE audit_log SET seq = 5 - (-seq) WHERE seq < 0",
            "altered",
        ),
        (
            "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
            "removed",
        ),
    ];
    for (sql, says) in cases {
        let (mut server, _upstream, ..) = session();
        let (code, text) = verify_cli(&server);
        assert_eq!(code, 0, "intact before: {text}");
        let expected = server.sql_i64(
            "SELECT MIN(seq) FROM audit_log WHERE event = 'refused' AND key_name = 'agent'",
        );
        server.stop();
        server.sql(sql);
        server.restart();
        let (code, text) = verify_cli(&server);
        assert_eq!(code, 3, "{sql}: {text}");
        assert!(
            text.contains("broken at record #") && text.contains(says),
            "{sql}: {text}"
        );
        if says == "altered" && sql.contains("refused") {
            assert!(text.contains(&format!("#{expected}")), "{text}");
        }
    }
}
