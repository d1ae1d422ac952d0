//! `GET /api/v1/events` and `keyport events`: every status change of a connection's life
//! (created ACTIVE, disabled, enabled, deleted) is one event in order, with ids a client
//! resumes from; live events arrive while the stream is open; a key restricted to an
//! entity sees that entity's events only; a bad `Last-Event-ID` is a 400.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Server, keyport, succeeded};

const WAIT: Duration = Duration::from_secs(10);

/// `(connection, old, new)` of each event.
fn moves(events: &[Value]) -> Vec<(String, Value, Value)> {
    events
        .iter()
        .map(|e| {
            (
                e["connectedAccountId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["oldStatus"].clone(),
                e["newStatus"].clone(),
            )
        })
        .collect()
}

fn change(server: &Server, method: &str, id: &str, action: &str) {
    server.ok(
        method,
        &format!("/api/v1/connectedAccounts/{id}{action}"),
        None,
    );
}

#[test]
fn a_connections_life_is_streamed_resumable_and_only_to_its_entity() {
    let server = Server::start();
    let integration =
        server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let connect = |entity: &str| {
        server.create_connection(
            json!({"integrationId": integration["id"], "userUuid": entity, "data": {"token": "t"}}),
        )["connectedAccountId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let alice = connect("alice");
    let bob = connect("bob");
    change(&server, "POST", &alice, "/disable");
    change(&server, "POST", &alice, "/enable");

    let all = server.events(&server.admin, None, 4, WAIT);
    let (new, active, inactive) = (Value::Null, json!("ACTIVE"), json!("INACTIVE"));
    assert_eq!(
        moves(&all),
        [
            (alice.clone(), new.clone(), active.clone()),
            (bob.clone(), new.clone(), active.clone()),
            (alice.clone(), active.clone(), inactive.clone()),
            (alice.clone(), inactive.clone(), active.clone()),
        ]
    );
    let first = &all[0];
    assert_eq!(
        (
            &first["entityId"],
            &first["appName"],
            &first["integrationId"]
        ),
        (&json!("alice"), &json!("github"), &integration["id"]),
        "{first}"
    );
    assert!(first["at"].as_str().unwrap().ends_with('Z'), "{first}");
    let ids: Vec<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // Resumed after the second event: the two after it, nothing before.
    let resumed = server.events(&server.admin, Some(ids[1]), 2, WAIT);
    assert_eq!(resumed, all[2..]);

    // A live reader, resumed after the last: sees the delete as it happens.
    let last = ids[3];
    let live = std::thread::scope(|s| {
        let reader = s.spawn(|| server.events(&server.admin, Some(last), 1, WAIT));
        std::thread::sleep(Duration::from_millis(500));
        change(&server, "DELETE", &alice, "");
        reader.join().unwrap()
    });
    assert_eq!(
        moves(&live),
        [(alice.clone(), active.clone(), json!("DELETED"))]
    );

    // Bob's key sees bob's event only (and no more arrive within a second).
    let bobs = server.mint_key(json!({"name": "bob", "permission": "use", "entityId": "bob"}));
    let seen = server.events(&bobs, None, 10, Duration::from_secs(1));
    assert_eq!(moves(&seen), [(bob.clone(), new, active)]);

    cli_prints_one_line_per_event(&server, ids[1]);
}

fn cli_prints_one_line_per_event(server: &Server, after: u64) {
    let run = |json: bool| {
        let mut cmd = keyport(&server.dir);
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(["events", "--after", &after.to_string(), "--limit", "3"])
            .output()
            .unwrap();
        succeeded(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let lines: Vec<Value> = run(true)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        moves(&lines)
            .iter()
            .map(|m| m.2.clone())
            .collect::<Vec<_>>(),
        [json!("INACTIVE"), json!("ACTIVE"), json!("DELETED")]
    );
    let text = run(false);
    let people: Vec<&str> = text.lines().collect();
    assert_eq!(people.len(), 3, "{text}");
    assert!(
        people[2].contains("github  alice") && people[2].ends_with("ACTIVE -> DELETED"),
        "{text}"
    );
}

#[test]
fn a_bad_resume_point_is_refused() {
    let server = Server::start();
    let answer = crate::common::agent()
        .get(format!("{}/api/v1/events", server.url))
        .header("x-api-key", &server.admin)
        .header("Last-Event-ID", "yesterday")
        .call()
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.into_body().read_json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
}
