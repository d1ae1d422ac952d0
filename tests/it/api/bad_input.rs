//! Bad input is answered with a 4xx whose JSON error names what was wrong, and writes
//! nothing.

use serde_json::Value;

use crate::common::{Server, agent};

const INTEGRATIONS: &str = "/api/v1/integrations";
const CONNECTIONS: &str = "/api/v1/connectedAccounts";
const INVALID: &str = "invalid_input";
const NOT_FOUND: &str = "not_found";

/// Refused requests: method, path, JSON body (in which `{id}` stands for a real
/// integration's id), and the status, error code and word the message must have.
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    ("POST", INTEGRATIONS, Some(r#"{"appName": "github", "authScheme": "OAUTH3"}"#), 400, INVALID, "OAUTH3"),
    ("POST", INTEGRATIONS, Some(r#"{"appName": "nosuchapp"}"#), 404, NOT_FOUND, "nosuchapp"),
    ("POST", INTEGRATIONS, Some(r#"{"authScheme": "BEARER_TOKEN"}"#), 400, INVALID, "appName"),
    ("POST", INTEGRATIONS, Some(r#"{"appName": "github", "bogus": 1}"#), 400, INVALID, "bogus"),
    ("POST", INTEGRATIONS, Some(r#"{"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"nonsense": "x"}}"#), 400, INVALID, "nonsense"),
    ("POST", INTEGRATIONS, Some(r#"{"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": "http://example.com"}}"#), 400, INVALID, "base_url"),
    ("POST", INTEGRATIONS, Some(r#"{"appName": "stripe", "authScheme": "OAUTH1"}"#), 400, INVALID, "OAUTH1"),
    ("POST", CONNECTIONS, Some(r#"{"integrationId": "{id}", "data": {}}"#), 400, INVALID, "token"),
    ("POST", CONNECTIONS, Some(r#"{"integrationId": "{id}", "data": {"token": 42}}"#), 400, INVALID, "token"),
    ("POST", CONNECTIONS, Some(r#"{"integrationId": "00000000-0000-4000-8000-000000000000", "data": {"token": "t"}}"#), 404, NOT_FOUND, "integration"),
    ("POST", CONNECTIONS, Some(r#"{"integrationId": "garbage", "data": {"token": "t"}}"#), 404, NOT_FOUND, "garbage"),
    ("POST", CONNECTIONS, Some(r#"{"integrationId": "{id}", "userUuid": "a,b", "data": {"token": "t"}}"#), 400, INVALID, "entity"),
    ("GET", "/api/v1/connectedAccounts?status=SUCCESS", None, 400, INVALID, "SUCCESS"),
    ("GET", "/api/v1/connectedAccounts/00000000-0000-4000-8000-000000000000", None, 404, NOT_FOUND, "connected account"),
    ("GET", "/api/v1/integrations/nope", None, 404, NOT_FOUND, "nope"),
    ("POST", "/api/v1/keys", Some(r#"{"name": "k", "permission": "root"}"#), 400, INVALID, "permission"),
    ("GET", "/api/v1/nothing-here", None, 404, NOT_FOUND, "route"),
    ("PUT", "/api/v1/connectedAccounts/00000000-0000-4000-8000-000000000000", None, 405, "method_not_allowed", "GET, PATCH, DELETE"),
    ("PUT", "/api/v1/connectedAccounts/00000000-0000-4000-8000-000000000000/info", None, 405, "method_not_allowed", "takes GET"),
    ("GET", "/api/v2/actions/proxy", None, 405, "method_not_allowed", "takes POST"),
    ("DELETE", "/healthz", None, 405, "method_not_allowed", "takes GET"),
    ("POST", "/api/v2/actions/GITHUB_GET_THE_AUTHENTICATED_USER/execute", Some(r#"{"entityId": "alice", "input": {}, "authConfig": {"parameters": [{"in": "header", "name": "Authorization", "value": "x"}]}}"#), 400, INVALID, "authConfig"),
];

#[test]
fn bad_input_gets_a_named_4xx_and_writes_nothing() {
    let server = Server::start();
    let integration =
        server.integration(serde_json::json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let id = integration["id"].as_str().unwrap();
    for &(method, path, body, status, code, mention) in CASES {
        let body: Option<Value> =
            body.map(|b| serde_json::from_str(&b.replace("{id}", id)).unwrap());
        let (got, value) = server.as_admin(method, path, body.as_ref());
        assert_eq!(got, status, "{method} {path} {body:?}: {value}");
        assert_eq!(value["error"]["code"], code, "{method} {path}: {value}");
        let message = value["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(mention),
            "{method} {path}: message {message:?} should name {mention:?}"
        );
    }
    malformed_and_oversized_bodies_are_refused(&server);
    // Nothing half-written: still exactly the one integration and no connection.
    for (path, count) in [(INTEGRATIONS, 1), (CONNECTIONS, 0)] {
        let list = server.ok("GET", path, None);
        assert_eq!(list["items"].as_array().unwrap().len(), count, "{path}");
    }
}

/// Malformed JSON and an oversized body.
fn malformed_and_oversized_bodies_are_refused(server: &Server) {
    let raw = |body: String| {
        let mut r = agent()
            .post(format!("{}/api/v1/integrations", server.url))
            .header("x-api-key", &server.admin)
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json::<Value>().unwrap())
    };
    let (status, value) = raw("{\"appName\": ".into());
    assert_eq!(
        (status, value["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{value}"
    );
    let (status, value) = raw(format!("{{\"appName\": \"{}\"}}", "x".repeat(300 * 1024)));
    assert_eq!(
        (status, value["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{value}"
    );
}
