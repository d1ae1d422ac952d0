#![expect(clippy::panic, reason = "tests")]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value, json};

use super::*;

fn catalog() -> Catalog {
    Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}"))
}

pub(super) fn actions() -> Actions {
    Actions::builtin(&catalog()).unwrap_or_else(|e| panic!("actions: {e}"))
}

pub(super) fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub(super) fn action<'a>(all: &'a Actions, name: &str) -> &'a Action {
    all.get(name).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn every_builtin_action_loads_and_is_well_formed() {
    let catalog = catalog();
    let all = actions();
    for wanted in [
        "GITHUB_GET_THE_AUTHENTICATED_USER",
        "GITHUB_CREATE_AN_ISSUE",
        "GITHUB_LIST_REPOSITORIES_FOR_THE_AUTHENTICATED_USER",
        "GMAIL_SEND_EMAIL",
        "GMAIL_FETCH_EMAILS",
        "GOOGLECALENDAR_CREATE_EVENT",
        "SLACK_SEND_MESSAGE",
        "NOTION_SEARCH",
        "LINEAR_CREATE_ISSUE",
    ] {
        assert!(all.get(wanted).is_some(), "{wanted} is missing");
    }
    for action in all.iter() {
        let def = &action.def;
        assert!(catalog.get(&action.app).is_some(), "{}", def.name);
        assert!(def.name.starts_with(&action.app.to_ascii_uppercase()));
        let required: Vec<&str> = def.parameters["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for param in action.path_params() {
            assert!(def.parameters["properties"].get(param).is_some());
            assert!(required.contains(&param.as_str()), "{}: {param}", def.name);
        }
        assert!(jsonschema::meta::is_valid(&def.parameters), "{}", def.name);
        assert!(jsonschema::meta::is_valid(&def.response), "{}", def.name);
        assert_eq!(def.parameters["type"], "object");
        assert!(def.parameters["title"].is_string());
        // Reads are declared read-only; every write declares itself as one.
        let reads = def.method == super::Method::Get;
        assert!(!reads || action.hints().read_only, "{}", def.name);
        // Every write method is a write action unless it is a query sent by POST.
        let write = action.access() == crate::domain::api_key::Access::Write;
        assert_eq!(write, !action.hints().read_only, "{}", def.name);
        // The input {} must be refused exactly when something is required.
        let empty_ok = action.validate_input(&json!({})).is_ok();
        assert_eq!(empty_ok, required.is_empty(), "{}", def.name);
    }
    assert!(all.len() >= 9);
    assert!(
        all.get("github_create_an_issue").is_some(),
        "names ignore case"
    );
}

fn load(text: &str) -> Result<Actions, ActionError> {
    Actions::from_files(&[("t.json".to_string(), text.to_string())], &catalog())
}

fn one(def: Value) -> String {
    json!({"app": "github", "actions": [def]}).to_string()
}

fn base_def() -> Value {
    json!({
        "name": "GITHUB_X", "display_name": "X", "description": "x", "method": "GET",
        "hints": {"read_only": true, "destructive": false, "idempotent": true, "open_world": true},
        "access": "read",
        "path": "/repos/{owner}",
        "parameters": {"title": "X", "type": "object",
            "properties": {"owner": {"type": "string", "description": "o"}},
            "required": ["owner"]},
        "response": {"title": "R", "type": "object", "properties": {}}
    })
}

#[test]
fn broken_definitions_are_refused_with_a_reason() {
    assert!(load(&one(base_def())).is_ok());
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("slug", Box::new(|d| d["name"] = json!("SLACK_X"))),
        ("slug", Box::new(|d| d["name"] = json!("github_x"))),
        ("declared", Box::new(|d| d["path"] = json!("/repos/{nope}"))),
        (
            "required",
            Box::new(|d| d["parameters"]["required"] = json!([])),
        ),
        ("unclosed", Box::new(|d| d["path"] = json!("/repos/{owner"))),
        ("'..'", Box::new(|d| d["path"] = json!("/../{owner}"))),
        (
            "title",
            Box::new(|d| d["parameters"]["title"] = json!(null)),
        ),
        (
            "JSON Schema",
            Box::new(|d| d["parameters"]["properties"]["owner"]["type"] = json!("strung")),
        ),
        (
            "goes nowhere",
            Box::new(|d| {
                d["parameters"]["properties"]["extra"] =
                    json!({"type": "string", "description": "e"})
            }),
        ),
        ("both", Box::new(|d| d["query"] = json!(["owner"]))),
        (
            "no body",
            Box::new(|d| {
                d["parameters"]["properties"]["extra"] =
                    json!({"type": "string", "description": "e"});
                d["body"] = json!(["extra"]);
            }),
        ),
        (
            "description",
            Box::new(|d| d["parameters"]["properties"]["owner"] = json!({"type": "string"})),
        ),
        ("pointer", Box::new(|d| d["data_pointer"] = json!("data"))),
        ("unknown field", Box::new(|d| d["surprise"] = json!(1))),
        (
            "missing field `hints`",
            Box::new(|d| {
                d.as_object_mut().map(|o| o.remove("hints"));
            }),
        ),
        (
            "read_only",
            Box::new(|d| d["hints"]["destructive"] = json!(true)),
        ),
        ("read_only", Box::new(|d| d["method"] = json!("DELETE"))),
        ("access", Box::new(|d| d["access"] = json!("write"))),
        ("unknown variant", Box::new(|d| d["access"] = json!("peek"))),
        (
            "missing field `access`",
            Box::new(|d| {
                d.as_object_mut().map(|o| o.remove("access"));
            }),
        ),
    ];
    for (want, mutate) in cases {
        let mut def = base_def();
        mutate(&mut def);
        match load(&one(def)) {
            Ok(_) => panic!("accepted a definition that should fail with {want:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{want:?} not in {e}"),
        }
    }
    let unknown_app = json!({"app": "nope", "actions": []}).to_string();
    assert!(load(&unknown_app).is_err());
    let twice = json!({"app": "github", "actions": [base_def(), base_def()]}).to_string();
    assert!(
        load(&twice)
            .err()
            .is_some_and(|e| e.to_string().contains("twice"))
    );
}

#[test]
fn input_errors_name_the_field_and_do_not_echo_values() {
    let all = actions();
    let issue = action(&all, "GITHUB_CREATE_AN_ISSUE");
    let missing = issue.validate_input(&json!({"owner": "o", "repo": "r"}));
    let msg = missing.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("input.title") && msg.contains("required"),
        "{msg}"
    );
    let wrong = issue.validate_input(&json!({"owner": "o", "repo": "r", "title": 42424242}));
    let msg = wrong.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("input.title") && msg.contains("string"),
        "{msg}"
    );
    assert!(!msg.contains("42424242"), "{msg}");
    let nested =
        issue.validate_input(&json!({"owner": "o", "repo": "r", "title": "t", "labels": ["a", 7]}));
    let msg = nested.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("input.labels.1"), "{msg}");
    assert!(issue.validate_input(&json!([1])).is_err());
    assert!(
        issue
            .validate_input(&json!({"owner": "o", "repo": "r", "title": "t"}))
            .is_ok()
    );
}

#[test]
fn plans_put_each_input_where_the_definition_says() {
    let all = actions();
    let issue = action(&all, "GITHUB_CREATE_AN_ISSUE");
    let planned = issue
        .plan(&obj(
            json!({"owner": "octo cat", "repo": "hello", "title": "Bug", "labels": ["x"]}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planned.method, http::Method::POST);
    assert_eq!(planned.endpoint, "/repos/octo%20cat/hello/issues");
    assert_eq!(planned.body, Some(json!({"title": "Bug", "labels": ["x"]})));

    let fetch = action(&all, "GMAIL_FETCH_EMAILS");
    let planned = fetch
        .plan(&obj(
            json!({"query": "from:a b", "max_results": 5, "label_ids": ["INBOX", "UNREAD"]}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        planned.endpoint,
        "/users/me/messages?q=from%3Aa+b&maxResults=5&labelIds=INBOX&labelIds=UNREAD"
    );
    assert_eq!(planned.body, None);

    let linear = action(&all, "LINEAR_CREATE_ISSUE");
    let planned = linear
        .plan(&obj(json!({"teamId": "T", "title": "t"})))
        .unwrap_or_else(|e| panic!("{e}"));
    let body = planned.body.unwrap_or_default();
    assert_eq!(
        body["variables"]["input"],
        json!({"teamId": "T", "title": "t"})
    );
    assert!(
        body["query"]
            .as_str()
            .is_some_and(|q| q.contains("issueCreate"))
    );
}

#[test]
fn path_inputs_cannot_add_segments() {
    let all = actions();
    let repo = action(&all, "GITHUB_GET_A_REPOSITORY");
    for bad in ["..", ".", "", "a/b", "a\\b", "../../user", "a\nb"] {
        let result = repo.plan(&obj(json!({"owner": bad, "repo": "r"})));
        let msg = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("input.owner"), "{bad:?}: {msg}");
    }
    let planned = repo
        .plan(&obj(json!({"owner": "%2e%2e", "repo": "a?b#c"})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planned.endpoint, "/repos/%252e%252e/a%3Fb%23c");
}

#[test]
fn gmail_send_builds_an_rfc_2822_message() {
    let all = actions();
    let send = action(&all, "GMAIL_SEND_EMAIL");
    let input = json!({
        "recipient_email": "bob@example.com",
        "extra_recipients": ["Carol <carol@example.com>"],
        "cc": ["dan@example.com"],
        "subject": "Grüße",
        "body": "Hello Bob,\nline two",
        "thread_id": "t1"
    });
    assert!(send.validate_input(&input).is_ok());
    let planned = send.plan(&obj(input)).unwrap_or_else(|e| panic!("{e}"));
    let body = planned.body.unwrap_or_default();
    assert_eq!(body["threadId"], "t1");
    let raw = URL_SAFE
        .decode(body["raw"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
    let (head, tail) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        head.contains("To: bob@example.com, Carol <carol@example.com>\r\n"),
        "{head}"
    );
    assert!(head.contains("Cc: dan@example.com\r\n"));
    assert!(head.contains(&format!(
        "Subject: =?UTF-8?B?{}?=",
        STANDARD.encode("Grüße")
    )));
    assert!(head.contains("Content-Type: text/plain; charset=\"UTF-8\""));
    let decoded = STANDARD
        .decode(tail.replace("\r\n", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decoded, b"Hello Bob,\nline two");
}

#[test]
fn gmail_headers_cannot_be_injected() {
    let all = actions();
    let send = action(&all, "GMAIL_SEND_EMAIL");
    for (field, value) in [
        ("recipient_email", json!("a@x.com\r\nBcc: evil@x.com")),
        ("recipient_email", json!("a@x.com, evil@x.com")),
        ("subject", json!("hi\r\nBcc: evil@x.com")),
        ("cc", json!(["ok@x.com", "no-at-sign"])),
    ] {
        let mut input = obj(json!({"recipient_email": "a@x.com", "body": "b"}));
        input.insert(field.to_string(), value);
        let msg = send
            .plan(&input)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains(&format!("input.{field}")), "{field}: {msg}");
    }
}

#[test]
fn outcomes_follow_status_flags_and_pointers() {
    let all = actions();
    let slack = action(&all, "SLACK_SEND_MESSAGE");
    let ok = slack.outcome(200, json!({"ok": true, "ts": "1"}));
    assert!(ok.successful && ok.error.is_none());
    let refused = slack.outcome(200, json!({"ok": false, "error": "channel_not_found"}));
    assert!(!refused.successful);
    assert_eq!(refused.error.as_deref(), Some("channel_not_found"));

    let linear = action(&all, "LINEAR_CREATE_ISSUE");
    let created = linear.outcome(200, json!({"data": {"issueCreate": {"success": true}}}));
    assert_eq!(created.data, json!({"success": true}));
    let graphql = linear.outcome(200, json!({"errors": [{"message": "bad team"}]}));
    assert_eq!(graphql.error.as_deref(), Some("bad team"));

    let issue = action(&all, "GITHUB_CREATE_AN_ISSUE");
    let gone = issue.outcome(404, json!({"message": "Not Found"}));
    assert!(!gone.successful);
    assert_eq!(
        gone.error.as_deref(),
        Some("the provider answered HTTP 404 Not Found: Not Found")
    );
}

fn user_dir(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

#[test]
fn user_actions_load_beside_the_builtin_ones_and_broken_files_are_skipped() {
    let catalog = catalog();
    let builtin = actions().len();
    let mut mine = base_def();
    mine["name"] = json!("GITHUB_MINE");
    let mut clash = base_def();
    clash["name"] = json!("GITHUB_CREATE_AN_ISSUE");
    let mut bad = base_def();
    bad["name"] = json!("GITHUB_BAD");
    bad["path"] = json!("/repos/{nope}");
    let dir = user_dir(&[
        ("a_good.json", one(mine)),
        ("b_clash.json", one(clash)),
        ("c_bad.json", one(bad)),
        ("d_syntax.json", "{".into()),
        ("notes.txt", "ignored".into()),
    ]);
    let (loaded, problems) = Actions::load(dir.path(), &catalog).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.len(), builtin + 1);
    assert!(loaded.get("GITHUB_MINE").is_some());
    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].contains("b_clash.json") && messages[0].contains("cannot replace"));
    assert!(messages[1].contains("c_bad.json") && messages[1].contains("{nope}"));
    assert!(messages[2].contains("d_syntax.json"));
    // The built-in action kept its own definition.
    let issue = action(&loaded, "GITHUB_CREATE_AN_ISSUE");
    assert_eq!(issue.def.method, super::Method::Post);

    let (none, problems) =
        Actions::load(&dir.path().join("absent"), &catalog).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((none.len(), problems.len()), (builtin, 0));
}

#[test]
fn a_user_file_is_taken_whole_or_not_at_all() {
    let mut first = base_def();
    first["name"] = json!("GITHUB_ONE");
    let mut twice = base_def();
    twice["name"] = json!("GITHUB_ONE");
    let text = json!({"app": "github", "actions": [first.clone(), twice]}).to_string();
    let dir = user_dir(&[("x.json", text), ("y.json", one(first))]);
    let (loaded, problems) =
        Actions::load(dir.path(), &catalog()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].to_string().contains("x.json"));
    assert!(
        loaded.get("GITHUB_ONE").is_some(),
        "y.json loads after x.json is skipped"
    );
}
