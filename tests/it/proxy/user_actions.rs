//! Actions as data: a user action file in `DATA/actions/` is listed on every surface
//! (v2, v3.1 tools, MCP), its input checked by its own schema before anything is sent,
//! run against a stand-in with the connection's credential and its answer shaped; its
//! read/write marking decides what a read-only key may run; a broken file and one that
//! would replace a built-in action are reported by name and skipped while the rest load.
//! And Gmail's message list comes back as the messages, fetched through the same
//! connection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

use super::{UPSTREAM_TIMEOUT_MS, github, gmail};
use crate::common::client::call;
use crate::common::mcp::{open, rpc, tool_names};
use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Launch, Server};

/// The user's file: one read action (with a shape) and one write action for GitHub.
fn stars_file() -> Value {
    let hints = |read: bool| json!({"read_only": read, "destructive": false, "idempotent": true, "open_world": true});
    json!({"app": "github", "actions": [
        {
            "name": "GITHUB_LIST_MY_STARS", "display_name": "List my stars",
            "description": "Repositories the user starred (GET /user/starred).",
            "tags": ["stars"], "hints": hints(true), "access": "read",
            "method": "GET", "path": "/user/starred", "query": ["per_page"],
            "shape": {"fields": {"name": "/full_name", "stars": "/stargazers_count"}},
            "parameters": {"title": "ListMyStarsRequest", "type": "object",
                "properties": {"per_page": {"type": "integer", "minimum": 1, "maximum": 100,
                    "description": "Results per page"}},
                "required": []},
            "response": {"title": "ListMyStarsResponse", "type": "array"}
        },
        {
            "name": "GITHUB_STAR_A_REPOSITORY", "display_name": "Star a repository",
            "description": "Stars a repository for the user (PUT /user/starred/{owner}/{repo}).",
            "hints": hints(false), "access": "write",
            "method": "PUT", "path": "/user/starred/{owner}/{repo}",
            "parameters": {"title": "StarARepositoryRequest", "type": "object",
                "properties": {
                    "owner": {"type": "string", "description": "Owner of the repository"},
                    "repo": {"type": "string", "description": "Name of the repository"}},
                "required": ["owner", "repo"]},
            "response": {"title": "StarARepositoryResponse", "type": "object"}
        }
    ]})
}

/// keyport started on a data dir holding the user's action files: a good one, a broken
/// one and one that takes a built-in name.
fn server_with_user_actions() -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let actions = dir.join("actions");
    std::fs::create_dir_all(&actions).expect("actions dir");
    std::fs::write(actions.join("stars.json"), stars_file().to_string()).expect("write");
    std::fs::write(
        actions.join("broken.json"),
        r#"{"app": "github", "actions": [{"name": "GITHUB_X"}]}"#,
    )
    .expect("write");
    let mut clash = stars_file();
    clash["actions"][0]["name"] = json!("GITHUB_CREATE_AN_ISSUE");
    if let Some(actions) = clash["actions"].as_array_mut() {
        actions.truncate(1);
    }
    std::fs::write(actions.join("clash.json"), clash.to_string()).expect("write");
    let mut server = Launch::default()
        .env(
            "KEYPORT_UPSTREAM_TIMEOUT_MS",
            &UPSTREAM_TIMEOUT_MS.to_string(),
        )
        .start_in(&dir)
        .unwrap_or_else(|out| panic!("keyport did not start: {out:?}"));
    server.keep(tmp);
    server
}

fn names(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i[field].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_user_action_is_listed_checked_and_run_and_broken_files_are_skipped() {
    let kp = server_with_user_actions();
    let log = kp.log();
    for file in ["broken.json", "clash.json"] {
        assert!(
            log.contains("action file skipped: ") && log.contains(file),
            "the warning names {file}: {log}"
        );
    }
    assert!(log.contains("cannot replace"), "{log}");
    assert!(
        !log.contains("stars.json:"),
        "the good file is not reported"
    );

    // Listed on v2 and v3.1, the built-in action of the clashing name untouched.
    let v2 = kp.ok("GET", "/api/v2/actions?apps=github", None);
    let listed = names(&v2["items"], "name");
    for name in [
        "GITHUB_LIST_MY_STARS",
        "GITHUB_STAR_A_REPOSITORY",
        "GITHUB_CREATE_AN_ISSUE",
    ] {
        assert!(listed.contains(&name.to_string()), "{name}: {listed:?}");
    }
    assert!(!listed.contains(&"GITHUB_X".to_string()));
    let issue = kp.ok("GET", "/api/v2/actions/GITHUB_CREATE_AN_ISSUE", None);
    assert!(issue["description"].as_str().unwrap_or("").contains("POST"));
    let tools = kp.ok("GET", "/api/v3.1/tools?toolkit_slug=github&limit=100", None);
    let slugs = names(&tools["items"], "slug");
    assert!(
        slugs.contains(&"GITHUB_LIST_MY_STARS".to_string()),
        "{slugs:?}"
    );
    let tool = kp.ok("GET", "/api/v3.1/tools/GITHUB_LIST_MY_STARS", None);
    assert_eq!(tool["toolkit"]["slug"], "github", "{tool}");

    // Checked by its own schema: nothing reaches the provider.
    let upstream = Upstream::start(|req| match (req.method.as_str(), req.target.as_str()) {
        ("GET", "/user/starred?per_page=2") => json_reply(
            200,
            json!([{"full_name": "octo/hello", "stargazers_count": 3, "owner": {"login": "octo"}}]),
        ),
        ("PUT", "/user/starred/octo/hello") => json_reply(204, Value::Null),
        _ => json_reply(404, json!({"message": "Not Found"})),
    });
    github(&kp, &upstream.base, "ghp_user_action");
    for input in [json!({"per_page": 0}), json!({"per_page": "two"})] {
        let (status, answer) = kp.execute(
            "GITHUB_LIST_MY_STARS",
            json!({"entityId": "alice", "input": input}),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("input.per_page")
        );
    }
    assert_eq!(upstream.count(), 0, "an invalid input reached the provider");

    // Run with the credential injected, the answer shaped as the file says.
    let (status, answer) = kp.execute(
        "github_list_my_stars",
        json!({"entityId": "alice", "input": {"per_page": 2}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true, "{answer}");
    assert_eq!(answer["data"], json!([{"name": "octo/hello", "stars": 3}]));
    let seen = upstream.only();
    assert_eq!(seen.target, "/user/starred?per_page=2");
    assert_eq!(seen.header("authorization"), Some("Bearer ghp_user_action"));
}

#[test]
fn a_user_actions_read_or_write_marking_decides_what_a_read_only_key_runs() {
    let kp = server_with_user_actions();
    let upstream = Upstream::start(|_| json_reply(200, json!([])));
    let id = github(&kp, &upstream.base, "ghp_marking");
    let created = kp.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "reader", "permission": "use", "allowedMethods": ["GET", "HEAD"]})),
    );
    let key = created["key"].as_str().expect("key").to_string();
    let run = |name: &str, input: Value| {
        let body = json!({"connectedAccountId": id, "input": input});
        call(
            &kp.url,
            "POST",
            &format!("/api/v2/actions/{name}/execute"),
            Some(&key),
            Some(&body),
        )
    };
    let (status, answer) = run("GITHUB_LIST_MY_STARS", json!({}));
    assert_eq!(
        (status, &answer["successful"]),
        (200, &json!(true)),
        "{answer}"
    );
    assert_eq!(upstream.count(), 1);
    let (status, answer) = run(
        "GITHUB_STAR_A_REPOSITORY",
        json!({"owner": "octo", "repo": "hello"}),
    );
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "restricted_method", "{answer}");
    assert_eq!(
        upstream.count(),
        1,
        "the refused write reached the provider"
    );
}

#[test]
fn mcp_lists_a_user_action_for_an_entity_with_a_connection() {
    let kp = server_with_user_actions();
    let upstream = Upstream::ok();
    github(&kp, &upstream.base, "ghp_mcp");
    let created = kp.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "mcp", "permission": "use", "entityId": "alice"})),
    );
    let session = open(&kp.url, created["key"].as_str().expect("key"));
    let listed = rpc(&kp.url, &session, 2, "tools/list", json!({})).body;
    let tools = tool_names(&listed);
    assert!(tools.contains(&"GITHUB_LIST_MY_STARS"), "{tools:?}");
    let star = listed["result"]["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "GITHUB_STAR_A_REPOSITORY"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(star["annotations"]["readOnlyHint"], false, "{star}");
    assert_eq!(upstream.count(), 0);
}

fn b64url(text: &str) -> String {
    URL_SAFE.encode(text.as_bytes())
}

#[test]
fn gmail_fetch_emails_returns_the_messages_not_their_ids() {
    let kp = super::proxy_server();
    let upstream = Upstream::start(|req| {
        let path = req.target.split('?').next().unwrap_or_default();
        match path {
            "/gmail/v1/users/me/messages" => json_reply(
                200,
                json!({"messages": [{"id": "m1", "threadId": "t1"}, {"id": "m2", "threadId": "t2"}],
                    "resultSizeEstimate": 2}),
            ),
            "/gmail/v1/users/me/messages/m1" | "/gmail/v1/users/me/messages/m2" => {
                let id = path.rsplit('/').next().unwrap_or_default();
                json_reply(
                    200,
                    json!({"id": id, "threadId": "t", "snippet": "s",
                    "payload": {"mimeType": "text/plain",
                        "headers": [{"name": "Subject", "value": format!("About {id}")},
                                    {"name": "From", "value": "alice@example.com"}],
                        "body": {"size": 5, "data": b64url(&format!("Body of {id}"))}}}),
                )
            }
            _ => json_reply(404, json!({"error": {"message": "no"}})),
        }
    });
    gmail(&kp, &upstream.base, "ya29.fetch");
    let (status, answer) = kp.execute(
        "GMAIL_FETCH_EMAILS",
        json!({"entityId": "alice", "input": {"query": "is:unread", "max_results": 2}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true, "{answer}");
    let messages = answer["data"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 2, "{answer}");
    for (message, id) in messages.iter().zip(["m1", "m2"]) {
        assert_eq!(message["id"], id);
        assert_eq!(message["subject"], format!("About {id}"));
        assert_eq!(message["from"], "alice@example.com");
        assert_eq!(message["text"], format!("Body of {id}"));
        assert!(message.get("payload").is_none(), "{message}");
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 3, "one list and one get per message");
    assert_eq!(
        seen[0].target,
        "/gmail/v1/users/me/messages?q=is%3Aunread&maxResults=2"
    );
    let mut gets: Vec<&str> = seen[1..].iter().map(|r| r.target.as_str()).collect();
    gets.sort_unstable();
    assert_eq!(
        gets,
        [
            "/gmail/v1/users/me/messages/m1?format=full",
            "/gmail/v1/users/me/messages/m2?format=full"
        ]
    );
    for request in &seen {
        assert_eq!(request.header("authorization"), Some("Bearer ya29.fetch"));
    }
}
