//! The embedded catalog's actions as their providers document them: the requests they
//! plan, the answers they shape, Gmail's readable messages and its list's follow-ups.

#![expect(clippy::panic, reason = "tests")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

use super::gmail;
use super::tests::{action, actions, obj};

fn b64url(text: &str) -> String {
    URL_SAFE.encode(text.as_bytes())
}

/// A Gmail `Message` as users.messages.get (format full) returns it.
fn gmail_message(id: &str) -> Value {
    json!({
        "id": id, "threadId": "t", "labelIds": ["INBOX"], "snippet": "Hi Bob",
        "payload": {
            "mimeType": "multipart/mixed",
            "headers": [
                {"name": "From", "value": "Alice <alice@example.com>"},
                {"name": "To", "value": "bob@example.com"},
                {"name": "Subject", "value": "Lunch"},
                {"name": "Received", "value": "noise"}
            ],
            "body": {"size": 0},
            "parts": [
                {"mimeType": "multipart/alternative", "body": {"size": 0}, "parts": [
                    {"mimeType": "text/plain", "filename": "", "body": {"size": 12, "data": b64url("Hi Bob, noon?")}},
                    {"mimeType": "text/html", "filename": "", "body": {"size": 20, "data": b64url("<p>Hi Bob</p>")}}
                ]},
                {"mimeType": "application/pdf", "filename": "menu.pdf", "body": {"size": 999, "attachmentId": "att1"}}
            ]
        }
    })
}

#[test]
fn gmail_messages_come_back_readable() {
    let readable = gmail::readable_message(&gmail_message("m1"));
    assert_eq!(
        readable,
        json!({
            "id": "m1", "threadId": "t", "labelIds": ["INBOX"], "snippet": "Hi Bob",
            "from": "Alice <alice@example.com>", "to": "bob@example.com", "subject": "Lunch",
            "text": "Hi Bob, noon?",
            "attachments": [{"filename": "menu.pdf", "mimeType": "application/pdf", "size": 999, "attachmentId": "att1"}]
        })
    );
    let html_only = json!({"id": "m2", "payload": {"mimeType": "text/html", "headers": [],
        "body": {"data": b64url("<b>x</b>")}}});
    assert_eq!(gmail::readable_message(&html_only)["html"], "<b>x</b>");
    let bare = json!({"id": "m3", "threadId": "t"});
    assert_eq!(
        gmail::readable_message(&bare),
        bare,
        "an id without a payload stays"
    );
}

#[test]
fn gmail_fetch_emails_follows_up_each_listed_message() {
    let all = actions();
    let fetch = action(&all, "GMAIL_FETCH_EMAILS");
    let planned = fetch
        .plan(&obj(json!({"query": "is:unread"})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        planned.endpoint, "/users/me/messages?q=is%3Aunread&maxResults=10",
        "the schema's default is sent"
    );
    let list = json!({"messages": [{"id": "m1", "threadId": "t"}, {"threadId": "no-id"}, {"id": "m2"}],
        "resultSizeEstimate": 3});
    let follow = fetch.follow_ups(&list);
    assert_eq!(
        follow,
        vec![
            "/users/me/messages/m1?format=full",
            "/users/me/messages/m2?format=full"
        ]
    );
    let mut data = list.clone();
    fetch.merge_follow_ups(&mut data, vec![Some(gmail_message("m1")), None]);
    let outcome = fetch.outcome(200, data);
    assert!(outcome.successful);
    let messages = outcome.data["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["subject"], "Lunch");
    assert_eq!(messages[0]["text"], "Hi Bob, noon?");
    assert_eq!(
        messages[2],
        json!({"id": "m2"}),
        "a failed follow-up leaves the id"
    );
    assert_eq!(outcome.data["resultSizeEstimate"], 3);
    // An unsuccessful answer is handed back whole, unshaped.
    let refused = fetch.outcome(403, json!({"error": {"message": "no"}}));
    assert_eq!(refused.data, json!({"error": {"message": "no"}}));
    // Actions without expand make no follow-ups.
    assert!(
        action(&all, "GITHUB_GET_A_REPOSITORY")
            .follow_ups(&list)
            .is_empty()
    );
}

#[test]
fn shaped_answers_keep_what_a_model_needs() {
    let all = actions();
    let issues = action(&all, "GITHUB_LIST_REPOSITORY_ISSUES");
    let raw = json!([{"number": 1, "title": "Bug", "state": "open", "user": {"login": "a", "avatar_url": "…"},
        "labels": [{"id": 9, "name": "bug", "color": "f00"}], "html_url": "u", "reactions": {"+1": 0}}]);
    let shaped = issues.outcome(200, raw).data;
    assert_eq!(
        shaped,
        json!([{"number": 1, "title": "Bug", "state": "open", "author": "a", "labels": ["bug"], "html_url": "u"}])
    );
    let slack = action(&all, "SLACK_LIST_CONVERSATIONS");
    let refused = slack.outcome(200, json!({"ok": false, "error": "invalid_auth"}));
    assert_eq!(
        refused.data["error"], "invalid_auth",
        "a refusal is not shaped"
    );
}

/// Documented requests: an action, its input, and the method, endpoint and body its
/// provider's documentation gives for it.
type Planned = (
    &'static str,
    Value,
    &'static str,
    &'static str,
    Option<Value>,
);

fn documented_requests() -> Vec<Planned> {
    vec![
        (
            "ASANA_CREATE_TASK",
            json!({"name": "n", "workspace": "1"}),
            "POST",
            "/tasks",
            Some(json!({"data": {"name": "n", "workspace": "1"}})),
        ),
        (
            "TRELLO_CREATE_CARD",
            json!({"idList": "l1", "name": "c"}),
            "POST",
            "/cards?idList=l1&name=c",
            Some(json!({})),
        ),
        (
            "AIRTABLE_LIST_RECORDS",
            json!({"base_id": "app1", "table": "Tasks", "fields": ["A", "B"]}),
            "GET",
            "/app1/Tasks?fields%5B%5D=A&fields%5B%5D=B",
            None,
        ),
        (
            "GOOGLESHEETS_APPEND_VALUES",
            json!({"spreadsheet_id": "s", "range": "Sheet1!A1:B2", "values": [[1]]}),
            "POST",
            "/spreadsheets/s/values/Sheet1%21A1%3AB2:append?valueInputOption=USER_ENTERED",
            Some(json!({"values": [[1]]})),
        ),
        (
            "ZENDESK_CREATE_TICKET",
            json!({"subject": "s", "comment": {"body": "b"}}),
            "POST",
            "/tickets",
            Some(json!({"ticket": {"subject": "s", "comment": {"body": "b"}}})),
        ),
        (
            "DROPBOX_LIST_FOLDER",
            json!({}),
            "POST",
            "/files/list_folder",
            Some(json!({"path": ""})),
        ),
        (
            "SENTRY_LIST_PROJECT_ISSUES",
            json!({"organization_id_or_slug": "o", "project_id_or_slug": "p"}),
            "GET",
            "/projects/o/p/issues/",
            None,
        ),
        (
            "DISCORD_LIST_MY_GUILDS",
            json!({"limit": 5}),
            "GET",
            "/users/@me/guilds?limit=5",
            None,
        ),
        (
            "HUBSPOT_LIST_CONTACTS",
            json!({"limit": 2}),
            "GET",
            "/crm/v3/objects/contacts?limit=2&properties=firstname%2Clastname%2Cemail%2Ccompany%2Cphone",
            None,
        ),
        (
            "GOOGLEDRIVE_EXPORT_FILE",
            json!({"file_id": "f"}),
            "GET",
            "/files/f/export?mimeType=text%2Fplain",
            None,
        ),
    ]
}

#[test]
fn catalog_actions_plan_the_documented_requests() {
    let all = actions();
    for (name, input, method, endpoint, body) in documented_requests() {
        let action = action(&all, name);
        assert!(action.validate_input(&input).is_ok(), "{name}");
        let planned = action
            .plan(&obj(input))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(planned.method.as_str(), method, "{name}");
        assert_eq!(planned.endpoint, endpoint, "{name}");
        assert_eq!(planned.body, body, "{name}");
    }
}
