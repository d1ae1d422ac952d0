//! Named actions: the catalog in the SDK's shape, input checked before anything is sent,
//! GitHub and Gmail actions end to end, and the CLI's `proxy` and `actions`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Value, json};

use super::{github, gmail, proxy_server};
use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Server, keyport};

#[test]
fn actions_are_listed_in_the_sdk_shape() {
    let kp = proxy_server();
    let all = kp.ok("GET", "/api/v2/actions", None);
    let items = all["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 9, "{}", items.len());
    for item in &items {
        for field in [
            "name",
            "description",
            "appName",
            "appId",
            "version",
            "display_name",
        ] {
            assert!(item[field].is_string(), "{field} in {item}");
        }
        for schema in ["parameters", "response"] {
            assert!(item[schema]["properties"].is_object(), "{item}");
            assert!(item[schema]["title"].is_string(), "{item}");
            assert_eq!(item[schema]["type"], "object", "{item}");
        }
        assert!(
            item["available_versions"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        );
        assert!(item["tags"].is_array());
        assert_eq!(item["enabled"], true);
        let name = item["name"].as_str().unwrap_or_default();
        assert_eq!(name, name.to_ascii_uppercase());
        let app = item["appName"].as_str().unwrap_or_default();
        assert_eq!(app, app.to_ascii_lowercase());
    }
    let some = kp.ok("GET", "/api/v2/actions?apps=GITHUB,slack", None);
    let names: Vec<&str> = some["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"GITHUB_CREATE_AN_ISSUE") && names.contains(&"SLACK_SEND_MESSAGE"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("GITHUB_") || n.starts_with("SLACK_")),
        "{names:?}"
    );
    let two = kp.ok("GET", "/api/v2/actions?limit=2", None);
    assert_eq!(two["items"].as_array().map(Vec::len), Some(2));

    let one = kp.ok("GET", "/api/v2/actions/github_create_an_issue", None);
    assert_eq!(one["name"], "GITHUB_CREATE_AN_ISSUE");
    let integration = kp.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    assert_eq!(one["appId"], integration["appId"]);
    assert!(
        one["parameters"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("title")))
    );
    let (status, answer) = kp.as_admin("GET", "/api/v2/actions/GITHUB_NO_SUCH_THING", None);
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found");
}

#[test]
fn action_input_is_validated_before_anything_is_sent() {
    let kp = proxy_server();
    let upstream = Upstream::ok();
    github(&kp, &upstream.base, "t");
    let cases = [
        (json!({"owner": "o", "repo": "r"}), "input.title"),
        (
            json!({"owner": "o", "repo": "r", "title": 42}),
            "input.title",
        ),
        (
            json!({"owner": "o", "repo": "r", "title": "t", "labels": "bug"}),
            "input.labels",
        ),
        (
            json!({"owner": "..", "repo": "r", "title": "t"}),
            "input.owner",
        ),
        (
            json!({"owner": "a/b", "repo": "r", "title": "t"}),
            "input.owner",
        ),
        (json!(["not", "an", "object"]), "input"),
    ];
    for (input, field) in cases {
        let (status, answer) = kp.execute(
            "GITHUB_CREATE_AN_ISSUE",
            json!({"entityId": "alice", "input": input}),
        );
        assert_eq!(status, 400, "{input} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message:?} does not name {field}");
    }
    let (status, _) = kp.execute("GITHUB_NOPE", json!({"entityId": "alice", "input": {}}));
    assert_eq!(status, 404);
    let (status, _) = kp.execute(
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        json!({"entityId": "alice", "appName": "SLACK", "input": {}}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        upstream.count(),
        0,
        "an invalid action reached the provider"
    );
}

#[test]
fn github_create_an_issue_end_to_end() {
    let kp = proxy_server();
    let upstream = Upstream::start(|req| {
        if req.method == "POST" && req.target == "/gh/repos/octo/hello/issues" {
            json_reply(
                201,
                json!({"number": 7, "html_url": "https://github.com/octo/hello/issues/7", "title": req.json()["title"]}),
            )
        } else {
            json_reply(404, json!({"message": "Not Found"}))
        }
    });
    github(&kp, &format!("{}/gh", upstream.base), "ghp_issue");
    // The SDK's execute body, extras included.
    let (status, answer) = kp.execute(
        "GITHUB_CREATE_AN_ISSUE",
        json!({
            "connectedAccountId": null, "entityId": "alice", "appName": "GITHUB",
            "input": {"owner": "octo", "repo": "hello", "title": "It broke", "body": "Steps…", "labels": ["bug"]},
            "text": null, "version": "latest:base", "authConfig": null,
            "sessionInfo": {"sessionId": "abc"}, "allowTracing": false
        }),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true);
    assert_eq!(answer["successfull"], true);
    assert_eq!(answer["error"], Value::Null);
    assert_eq!(answer["data"]["number"], 7);
    assert_eq!(answer["data"]["title"], "It broke");
    let seen = upstream.only();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/gh/repos/octo/hello/issues");
    assert_eq!(
        seen.json(),
        json!({"title": "It broke", "body": "Steps…", "labels": ["bug"]})
    );
    assert_eq!(seen.header("authorization"), Some("Bearer ghp_issue"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("accept"), Some("application/vnd.github+json"));

    // A provider refusal is an unsuccessful result, not an API error.
    let (status, answer) = kp.execute(
        "GITHUB_CREATE_AN_ISSUE",
        json!({"entityId": "alice", "input": {"owner": "octo", "repo": "gone", "title": "t"}}),
    );
    assert_eq!(status, 200);
    assert_eq!(answer["successful"], false);
    assert_eq!(answer["successfull"], false);
    assert!(
        answer["error"].as_str().unwrap_or("").contains("404"),
        "{answer}"
    );
}

#[test]
fn gmail_send_email_sends_the_raw_message() {
    let kp = proxy_server();
    let upstream = Upstream::start(|_| {
        json_reply(
            200,
            json!({"id": "m1", "threadId": "t1", "labelIds": ["SENT"]}),
        )
    });
    gmail(&kp, &upstream.base, "ya29.gmail");
    let (status, answer) = kp.execute(
        "GMAIL_SEND_EMAIL",
        json!({"entityId": "alice", "input": {
            "recipient_email": "bob@example.com", "cc": ["carol@example.com"],
            "subject": "Lunch?", "body": "Noon at the usual place.\nAlice"
        }}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"], true);
    assert_eq!(answer["data"]["id"], "m1");
    let seen = upstream.only();
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("POST", "/gmail/v1/users/me/messages/send")
    );
    assert_eq!(seen.header("authorization"), Some("Bearer ya29.gmail"));
    let body = seen.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let raw = URL_SAFE
        .decode(body["raw"].as_str().unwrap_or_default())
        .expect("base64url");
    let message = String::from_utf8(raw).expect("utf-8");
    let (head, text) = message.split_once("\r\n\r\n").expect("header/body split");
    let lines: Vec<&str> = head.split("\r\n").collect();
    for want in [
        "To: bob@example.com",
        "Cc: carol@example.com",
        "Subject: Lunch?",
        "MIME-Version: 1.0",
    ] {
        assert!(lines.contains(&want), "{want} not in {lines:?}");
    }
    let decoded = STANDARD
        .decode(text.replace("\r\n", ""))
        .expect("body base64");
    assert_eq!(decoded, "Noon at the usual place.\nAlice".as_bytes());

    let (status, answer) = kp.execute(
        "GMAIL_SEND_EMAIL",
        json!({"entityId": "alice", "input": {"recipient_email": "bob@example.com\r\nBcc: eve@example.com", "body": "x"}}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(upstream.count(), 1);
}

/// `keyport ARGS` against `kp`: exit code, stdout, stderr.
fn cli(kp: &Server, args: &[&str]) -> (Option<i32>, String, String) {
    let out = keyport(&kp.dir).args(args).output().expect("run keyport");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_proxies_and_runs_actions() {
    let kp = proxy_server();
    let upstream = Upstream::start(|req| match (req.method.as_str(), req.target.as_str()) {
        ("GET", "/user") => json_reply(200, json!({"login": "alice"})),
        ("POST", "/repos/o/r/issues") => json_reply(201, json!({"number": 1})),
        _ => json_reply(404, json!({"message": "Not Found"})),
    });
    let id = github(&kp, &upstream.base, "t");
    let run = |args: &[&str]| cli(&kp, args);
    let (code, stdout, stderr) = run(&["proxy", &id, "GET", "/user", "-H", "X-Trace: 1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("HTTP 200 OK"), "{stdout}");
    assert!(
        stdout.contains("content-type: application/json"),
        "{stdout}"
    );
    assert!(stdout.contains("\"login\": \"alice\""), "{stdout}");
    assert_eq!(
        upstream
            .requests()
            .pop()
            .unwrap_or_default()
            .header("x-trace"),
        Some("1")
    );

    let (code, stdout, _) = run(&["proxy", "github", "--entity", "alice", "GET", "/nothing"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("HTTP 404 Not Found"), "{stdout}");

    let (code, _, stderr) = run(&["proxy", &id, "GET", "http://evil.example/x"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("invalid_input"), "{stderr}");

    let (code, stdout, _) = run(&["actions", "list", "--app", "github"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("GITHUB_CREATE_AN_ISSUE") && !stdout.contains("SLACK_"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["actions", "show", "GITHUB_CREATE_AN_ISSUE"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("title") && stdout.contains("yes"),
        "{stdout}"
    );
    let issue = |input: &str| {
        let action = ["actions", "run", "GITHUB_CREATE_AN_ISSUE"];
        run(&[&action[..], &["--entity", "alice", "--input", input]].concat())
    };
    let (code, stdout, stderr) = issue(r#"{"owner":"o","repo":"r","title":"t"}"#);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"number\": 1"), "{stdout}");
    let (code, _, stderr) = issue("{}");
    assert_ne!(code, Some(0));
    assert!(stderr.contains("input.owner"), "{stderr}");
}
