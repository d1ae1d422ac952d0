//! The API schema (generated from the wire types, served at `/api/openapi.json`) is kept
//! true: its operations are exactly the `/api/` routes of `keyport::http::routes()`, the
//! server serves exactly the generated document, responses of a sample of real calls
//! validate against it, and schemathesis, generating requests from it against the live
//! server, finds no server error and no schema violation.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::value_str;
use crate::common::{PASSPHRASE, Server, call, keyport, peers};

/// keyport with every outbound request sent to a local sentinel (`ALL_PROXY`), which counts
/// and drops it: generated calls reach routes that talk to providers (proxy, actions, the
/// who-am-I test), and none of that may leave this machine.
fn fenced_server() -> (Server, Arc<AtomicUsize>, tempfile::TempDir) {
    let sentinel = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", sentinel.local_addr().unwrap());
    let caught = Arc::new(AtomicUsize::new(0));
    let count = caught.clone();
    std::thread::spawn(move || {
        for stream in sentinel.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut cmd = keyport(&dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .env("KEYPORT_LOG", "keyport=debug,info")
        .env("ALL_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.with_extension("log")).unwrap());
    let server = Server::spawn(&dir, cmd).expect("keyport starts");
    (server, caught, tmp)
}

fn document() -> Value {
    serde_json::to_value(keyport::http::openapi::api_document()).unwrap()
}

#[test]
fn the_document_lists_exactly_the_api_routes() {
    let doc = document();
    let from_routes: BTreeSet<(String, String)> = keyport::http::routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| (r.method.to_lowercase(), r.path.to_string()))
        .collect();
    let mut from_doc = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            from_doc.insert((method.clone(), path.clone()));
        }
    }
    let undocumented: Vec<_> = from_routes.difference(&from_doc).collect();
    let phantom: Vec<_> = from_doc.difference(&from_routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "the OpenAPI document has routes keyport does not serve: {phantom:?}"
    );
    println!(
        "{} API operations: every route documented, every documented operation served",
        from_routes.len()
    );
}

/// The schema the document gives for `status` of `method path`, as a standalone JSON Schema.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let mut response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path}: status {status} is not documented"
    );
    if let Some(reference) = response["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        response = &doc["components"]["responses"][name];
    }
    // JSON answers, or the JSON of each server-sent event of a stream.
    let content = &response["content"];
    let schema = match &content["application/json"]["schema"] {
        Value::Null => &content["text/event-stream"]["schema"],
        json => json,
    };
    // OpenAPI 3.1 schemas are JSON Schema (2020-12): only the references need a root.
    json!({"allOf": [schema], "components": doc["components"]})
}

/// Calls the live server and validates each answer against the schema the document gives
/// for its operation and status.
struct Checker {
    doc: Value,
    url: String,
    checked: usize,
}

impl Checker {
    /// `method path` (an instance of `template`) with `key`; the answer, once validated.
    fn check(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (status, value) = call(&self.url, &method.to_uppercase(), path, key, body.as_ref());
        let schema = response_schema(&self.doc, method, template, status);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} -> {status}: {errors:?}\n{value}"
        );
        self.checked += 1;
        value
    }

    /// `check` of a path with no parameters.
    fn at(&mut self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Value {
        self.check(method, path, path, key, body)
    }
}

/// Each event the stream sent for the connections' lives, against the documented event.
fn check_events(c: &mut Checker, server: &Server) {
    let schema = response_schema(&c.doc, "get", "/api/v1/events", 200);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let events = server.events(&server.admin, None, 100, std::time::Duration::from_secs(2));
    assert!(events.len() >= 4, "{events:?}");
    assert!(!validator.is_valid(&json!({"id": "1"})));
    for event in &events {
        assert!(validator.is_valid(event), "{event}");
        c.checked += 1;
    }
}

/// The document itself, the key check and the catalog.
fn check_catalog(c: &mut Checker, k: Option<&str>) {
    let served = c.at("get", "/api/openapi.json", k, None);
    assert_eq!(served, c.doc, "the server serves the generated document");
    c.at("get", "/api/openapi.json", None, None);
    c.at("get", "/api/v1/client/auth/client_info", k, None);
    c.at("get", "/api/v1/apps", k, None);
    c.check("get", "/api/v1/apps/{name}", "/api/v1/apps/github", k, None);
    c.check(
        "get",
        "/api/v1/apps/{name}",
        "/api/v1/apps/nosuchapp",
        k,
        None,
    );
}

/// Integrations: a bearer and an OAuth one (their ids), a refused create, reads, a rename.
fn check_integrations(c: &mut Checker, k: Option<&str>) -> (String, String) {
    let bearer = c.at(
        "post",
        "/api/v1/integrations",
        k,
        Some(json!({"appName": "github", "authScheme": "BEARER_TOKEN"})),
    );
    let oauth = c.at(
        "post",
        "/api/v1/integrations",
        k,
        Some(json!({"appName": "github", "authScheme": "OAUTH2",
            "authConfig": {"client_id": "c", "client_secret": "s"}})),
    );
    c.at(
        "post",
        "/api/v1/integrations",
        k,
        Some(json!({"appName": 7})),
    );
    let (bearer, oauth) = (value_str(&bearer, "id"), value_str(&oauth, "id"));
    let one = "/api/v1/integrations/{id}";
    c.check(
        "get",
        "/api/v1/integrations",
        "/api/v1/integrations?showDisabled=true",
        k,
        None,
    );
    c.check(
        "get",
        one,
        &format!("/api/v1/integrations/{oauth}"),
        k,
        None,
    );
    c.check("get", one, "/api/v1/integrations/not-an-id", k, None);
    c.check(
        "patch",
        one,
        &format!("/api/v1/integrations/{bearer}"),
        k,
        Some(json!({"name": "renamed"})),
    );
    (bearer, oauth)
}

/// Connections: create (and a refused create), list, read, disable/enable, reveal, wait,
/// info, and the two calls that go out (a who-am-I check, a proxied call); the id.
fn check_connections(c: &mut Checker, k: Option<&str>, bearer: &str, oauth: &str) -> String {
    let created = c.at(
        "post",
        "/api/v1/connectedAccounts",
        k,
        Some(json!({"integrationId": bearer, "userUuid": "alice", "data": {"token": "t-1"}})),
    );
    c.at(
        "post",
        "/api/v1/connectedAccounts",
        k,
        Some(json!({"integrationId": oauth, "userUuid": "bob", "data": {}})),
    );
    c.at(
        "post",
        "/api/v1/connectedAccounts",
        k,
        Some(json!({"integrationId": bearer, "data": {"token": 5}})),
    );
    let id = value_str(&created, "connectedAccountId");
    c.check(
        "get",
        "/api/v1/connectedAccounts",
        "/api/v1/connectedAccounts?user_uuid=alice,bob&pageSize=5",
        k,
        None,
    );
    let template = "/api/v1/connectedAccounts/{id}";
    c.check(
        "get",
        template,
        &format!("/api/v1/connectedAccounts/{id}"),
        k,
        None,
    );
    c.check(
        "get",
        template,
        "/api/v1/connectedAccounts/00000000-0000-4000-8000-000000000000",
        k,
        None,
    );
    // Disabled twice (the second is refused), enabled; then the reads beside the resource.
    for (method, action) in [
        ("post", "/disable"),
        ("post", "/disable"),
        ("post", "/enable"),
        ("get", "/credentials"),
        ("get", "/wait"),
        ("get", "/info"),
        // Both go out through the sentinel and fail (502).
        ("post", "/test"),
    ] {
        let path = format!("/api/v1/connectedAccounts/{id}{action}");
        let path = if action == "/wait" {
            format!("{path}?timeout=0")
        } else {
            path
        };
        c.check(method, &format!("{template}{action}"), &path, k, None);
    }
    c.at(
        "post",
        "/api/v2/actions/proxy",
        k,
        Some(json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"})),
    );
    id
}

/// Entities, triggers, actions (found, missing, refused) and a proxy call naming nothing.
fn check_actions(c: &mut Checker, k: Option<&str>, id: &str) {
    c.at("get", "/api/v1/entities", k, None);
    c.at("get", "/api/v1/triggers", k, None);
    let actions = c.check(
        "get",
        "/api/v2/actions",
        "/api/v2/actions?apps=github&limit=3",
        k,
        None,
    );
    let one = "/api/v2/actions/{name}";
    if let Some(name) = actions["items"][0]["name"].as_str() {
        c.check("get", one, &format!("/api/v2/actions/{name}"), k, None);
    }
    c.check("get", one, "/api/v2/actions/NO_SUCH_ACTION", k, None);
    c.check(
        "post",
        "/api/v2/actions/{name}/execute",
        "/api/v2/actions/NO_SUCH_ACTION/execute",
        k,
        Some(json!({"connectedAccountId": id, "input": {}})),
    );
    c.at(
        "post",
        "/api/v2/actions/proxy",
        k,
        Some(json!({"endpoint": "/user", "method": "GET"})),
    );
}

/// Keys: mint an entity-bound `use` key, list, what it may not do and may do, revoke.
fn check_keys(c: &mut Checker, k: Option<&str>, id: &str) {
    let key = c.at(
        "post",
        "/api/v1/keys",
        k,
        Some(json!({"name": "agent", "permission": "use", "entityId": "alice"})),
    );
    c.at("get", "/api/v1/keys", k, None);
    let agent = value_str(&key, "key");
    c.check(
        "get",
        "/api/v1/connectedAccounts/{id}/credentials",
        &format!("/api/v1/connectedAccounts/{id}/credentials"),
        Some(&agent),
        None,
    );
    c.at("get", "/api/v1/client/auth/client_info", Some(&agent), None);
    c.check(
        "delete",
        "/api/v1/keys/{id}",
        &format!("/api/v1/keys/{}", value_str(&key, "id")),
        k,
        None,
    );
}

#[test]
fn real_responses_match_the_documented_schemas() {
    let doc = document();
    // The validation is not blind: a wrong shape fails it.
    let list = response_schema(&doc, "get", "/api/v1/integrations", 200);
    assert!(!jsonschema::is_valid(
        &list,
        &json!({"items": 5, "totalPages": 1})
    ));
    assert!(!jsonschema::is_valid(
        &list,
        &json!({"items": [{"id": 1}], "totalPages": 1})
    ));
    let (server, caught, _tmp) = fenced_server();
    let k = Some(server.admin.as_str());
    let mut c = Checker {
        doc,
        url: server.url.clone(),
        checked: 0,
    };
    check_catalog(&mut c, k);
    let (bearer, oauth) = check_integrations(&mut c, k);
    let id = check_connections(&mut c, k, &bearer, &oauth);
    assert!(
        caught.load(Ordering::SeqCst) >= 2,
        "the sentinel proxy saw the outbound calls"
    );
    check_actions(&mut c, k, &id);
    check_keys(&mut c, k, &id);
    c.check(
        "delete",
        "/api/v1/connectedAccounts/{id}",
        &format!("/api/v1/connectedAccounts/{id}"),
        k,
        None,
    );
    c.check(
        "delete",
        "/api/v1/integrations/{id}",
        &format!("/api/v1/integrations/{oauth}"),
        k,
        None,
    );
    check_events(&mut c, &server);
    println!(
        "{} real responses validated against the generated OpenAPI document",
        c.checked
    );
}

/// Schemathesis from PyPI (tests/peers/requirements.txt, in the kit's Python), generating
/// requests from the document against the live server with every check on.
#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let (server, caught, _tmp) = fenced_server();
    // Something to find: an integration and a connection the generated calls can hit.
    let integration = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "github", "authScheme": "BEARER_TOKEN"})),
    );
    server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": integration["id"], "userUuid": "alice", "data": {"token": "t"}})),
    );
    let tmp = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/schemathesis.toml");
    // A fixed seed: the run is the same on every CI machine (and a failure reproduces).
    // One worker: with two, Hypothesis parses sources with `ast` on both threads at once,
    // which CPython 3.11 can fail with "AST constructor recursion depth mismatch" (its
    // recursion counter is not per thread; gh-106905), a Runtime Error in the run.
    let out = Command::new(peers::python())
        .args(["-m", "schemathesis.cli", "--config-file", config, "run"])
        .arg(format!("{}/api/openapi.json", server.url))
        .args(["--url", &server.url])
        .args(["--header", &format!("x-api-key: {}", server.admin)])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--workers",
            "1",
            "--seed",
            "7",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--request-timeout",
            "30",
            "--no-color",
            "--generation-database",
            "none",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    let cases = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .unwrap_or_default()
        .trim();
    assert!(cases.contains("generated"), "no case count in:\n{stdout}");
    println!(
        "schemathesis --checks all against the live server: {cases}; 0 server errors, 0 schema violations; {} outbound requests caught by the sentinel proxy, none left the machine",
        caught.load(Ordering::SeqCst)
    );
}
