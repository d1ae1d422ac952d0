//! The HTTP API: authentication on every route, Composio shapes, redaction and reveal,
//! bad input answered with 4xx and a JSON error.

use serde_json::{Value, json};

use crate::common::{Server, call};

/// Every route from the router's own table, with path parameters filled in.
fn every_api_route() -> Vec<(String, String)> {
    keyport::http::routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| {
            let path = r
                .path
                .replace("{id}", "00000000-0000-4000-8000-000000000000")
                .replace("{name}", "GITHUB_GET_THE_AUTHENTICATED_USER")
                .replace("{app}", "github");
            (r.method.to_uppercase(), path)
        })
        .collect()
}

#[test]
fn every_api_route_needs_a_key() {
    let server = Server::start();
    let routes = every_api_route();
    assert!(
        routes.len() >= 15,
        "route table looks truncated: {}",
        routes.len()
    );
    for (method, path) in &routes {
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        for key in [None, Some("kp_wrong"), Some("")] {
            let (status, value) = call(&server.url, method, path, key, body.as_ref());
            assert_eq!(status, 401, "{method} {path} with key {key:?}: {value}");
            assert_eq!(value["error"]["code"], "unauthorized");
        }
        // Authorization: Bearer works as well as x-api-key, and a wrong one is refused.
        let url = format!("{}{path}", server.url);
        let response = crate::common::agent()
            .get(&url)
            .header("authorization", "Bearer kp_nope")
            .call()
            .unwrap();
        if method == "GET" {
            assert_eq!(
                response.status().as_u16(),
                401,
                "GET {path} with a wrong bearer"
            );
        }
    }
    let response = crate::common::agent()
        .get(format!("{}/api/v1/integrations", server.url))
        .header("authorization", format!("Bearer {}", server.admin))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    println!("401 checked on {} routes x 3 keys", routes.len());
}

fn create_bearer_integration(server: &Server, app: &str) -> Value {
    server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": app, "authScheme": "BEARER_TOKEN"})),
    )
}

#[test]
fn integration_and_connection_lifecycle_in_composio_shapes() {
    let server = Server::start();
    let integration = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appName": "GitHub", "authScheme": "bearer_token", "name": "gh"})),
    );
    for field in [
        "id",
        "name",
        "authScheme",
        "createdAt",
        "updatedAt",
        "enabled",
        "deleted",
        "appId",
        "appName",
        "expectedInputFields",
    ] {
        assert!(
            !integration[field].is_null(),
            "integration lacks {field}: {integration}"
        );
    }
    assert_eq!(integration["authScheme"], "BEARER_TOKEN");
    assert_eq!(integration["appName"], "github");
    assert_eq!(integration["expectedInputFields"][0]["name"], "token");
    assert_eq!(integration["expectedInputFields"][0]["is_secret"], true);
    let id = integration["id"].as_str().unwrap().to_string();

    // appId works as well as appName.
    let by_app_id = server.ok(
        "POST",
        "/api/v1/integrations",
        Some(&json!({"appId": integration["appId"], "authScheme": "BEARER_TOKEN"})),
    );
    assert_eq!(by_app_id["appName"], "github");
    assert!(by_app_id["name"].as_str().unwrap().starts_with("GITHUB_"));

    let list = server.ok("GET", "/api/v1/integrations?appName=github", None);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let created = server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": id, "userUuid": "alice", "data": {"token": "ghp_lifecycle"}, "labels": ["work"], "redirectUri": null})),
    );
    assert_eq!(created["connectionStatus"], "ACTIVE");
    let conn_id = created["connectedAccountId"].as_str().unwrap().to_string();

    // Entity defaults to "default".
    let other = server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": id, "data": {"token": "ghp_other"}})),
    );
    let other_id = other["connectedAccountId"].as_str().unwrap();
    let got = server.ok(
        "GET",
        &format!("/api/v1/connectedAccounts/{other_id}"),
        None,
    );
    assert_eq!(got["entityId"], "default");

    let got = server.ok("GET", &format!("/api/v1/connectedAccounts/{conn_id}"), None);
    for field in [
        "id",
        "status",
        "createdAt",
        "updatedAt",
        "appUniqueId",
        "appName",
        "integrationId",
        "connectionParams",
        "clientUniqueUserId",
    ] {
        assert!(!got[field].is_null(), "connection lacks {field}: {got}");
    }
    assert_eq!(got["connectionParams"]["token"], "********");
    assert_eq!(got["appUniqueId"], "github");
    assert_eq!(got["labels"], json!(["work"]));

    let by_entity = server.ok(
        "GET",
        "/api/v1/connectedAccounts?user_uuid=alice&showActiveOnly=true",
        None,
    );
    assert_eq!(by_entity["items"].as_array().unwrap().len(), 1);
    let by_label = server.ok("GET", "/api/v1/connectedAccounts?labels=work", None);
    assert_eq!(by_label["items"].as_array().unwrap().len(), 1);
    let by_app = server.ok("GET", "/api/v1/connectedAccounts?appNames=GITHUB", None);
    assert_eq!(by_app["items"].as_array().unwrap().len(), 2);
    let entities = server.ok("GET", "/api/v1/entities", None);
    let names: Vec<&str> = entities["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "default"]);

    // disable -> INACTIVE (not in active-only lists) -> enable -> ACTIVE
    let disabled = server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn_id}/disable"),
        Some(&json!({})),
    );
    assert_eq!(disabled["status"], "INACTIVE");
    let active = server.ok(
        "GET",
        "/api/v1/connectedAccounts?user_uuid=alice&showActiveOnly=true",
        None,
    );
    assert_eq!(active["items"].as_array().unwrap().len(), 0);
    let (status, err) = server.call(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn_id}/disable"),
        Some(&server.admin),
        Some(&json!({})),
    );
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("illegal_transition")),
        "{err}"
    );
    let enabled = server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn_id}/enable"),
        Some(&json!({})),
    );
    assert_eq!(enabled["status"], "ACTIVE");

    // delete -> DELETED, gone from default lists, secrets wiped
    assert_eq!(
        server.ok(
            "DELETE",
            &format!("/api/v1/connectedAccounts/{conn_id}"),
            None
        )["status"],
        "success"
    );
    let deleted = server.ok("GET", &format!("/api/v1/connectedAccounts/{conn_id}"), None);
    assert_eq!(deleted["status"], "DELETED");
    assert_eq!(deleted["connectionParams"]["headers"], json!({}));
    assert!(
        deleted["connectionParams"].get("token").is_none(),
        "{deleted}"
    );
    let (status, _) = server.call(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn_id}/enable"),
        Some(&server.admin),
        Some(&json!({})),
    );
    assert_eq!(status, 409);
    let remaining = server.ok("GET", "/api/v1/connectedAccounts", None);
    assert_eq!(remaining["items"].as_array().unwrap().len(), 1);

    // update, then delete the integration: its connections go with it
    let updated = server.ok(
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(&json!({"name": "renamed", "enabled": false})),
    );
    assert_eq!(
        (updated["name"].as_str(), updated["enabled"].as_bool()),
        (Some("renamed"), Some(false))
    );
    let (status, err) = server.call(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&server.admin),
        Some(&json!({"integrationId": id, "data": {"token": "x"}})),
    );
    assert_eq!(
        status, 409,
        "disabled integration refuses connections: {err}"
    );
    let gone = server.ok("DELETE", &format!("/api/v1/integrations/{id}"), None);
    assert_eq!(gone["deletedConnections"], 1);
    let (status, _) = server.call(
        "GET",
        &format!("/api/v1/connectedAccounts/{other_id}"),
        Some(&server.admin),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        server.ok(
            "GET",
            &format!("/api/v1/connectedAccounts/{other_id}"),
            None
        )["status"],
        "DELETED"
    );
}

#[test]
fn bad_input_gets_a_named_4xx_and_writes_nothing() {
    let server = Server::start();
    let admin = Some(server.admin.as_str());
    let integration = create_bearer_integration(&server, "github");
    let id = integration["id"].as_str().unwrap();
    let cases: Vec<(&str, &str, Value, u16, &str, &str)> = vec![
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "github", "authScheme": "OAUTH3"}),
            400,
            "invalid_input",
            "OAUTH3",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "nosuchapp"}),
            404,
            "not_found",
            "nosuchapp",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"authScheme": "BEARER_TOKEN"}),
            400,
            "invalid_input",
            "appName",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "github", "bogus": 1}),
            400,
            "invalid_input",
            "bogus",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"nonsense": "x"}}),
            400,
            "invalid_input",
            "nonsense",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "github", "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": "http://example.com"}}),
            400,
            "invalid_input",
            "base_url",
        ),
        (
            "POST",
            "/api/v1/integrations",
            json!({"appName": "stripe", "authScheme": "OAUTH1"}),
            400,
            "invalid_input",
            "OAUTH1",
        ),
        (
            "POST",
            "/api/v1/connectedAccounts",
            json!({"integrationId": id, "data": {}}),
            400,
            "invalid_input",
            "token",
        ),
        (
            "POST",
            "/api/v1/connectedAccounts",
            json!({"integrationId": id, "data": {"token": 42}}),
            400,
            "invalid_input",
            "token",
        ),
        (
            "POST",
            "/api/v1/connectedAccounts",
            json!({"integrationId": "00000000-0000-4000-8000-000000000000", "data": {"token": "t"}}),
            404,
            "not_found",
            "integration",
        ),
        (
            "POST",
            "/api/v1/connectedAccounts",
            json!({"integrationId": "garbage", "data": {"token": "t"}}),
            404,
            "not_found",
            "garbage",
        ),
        (
            "POST",
            "/api/v1/connectedAccounts",
            json!({"integrationId": id, "userUuid": "a,b", "data": {"token": "t"}}),
            400,
            "invalid_input",
            "entity",
        ),
        (
            "GET",
            "/api/v1/connectedAccounts?status=SUCCESS",
            Value::Null,
            400,
            "invalid_input",
            "SUCCESS",
        ),
        (
            "GET",
            "/api/v1/connectedAccounts/00000000-0000-4000-8000-000000000000",
            Value::Null,
            404,
            "not_found",
            "connected account",
        ),
        (
            "GET",
            "/api/v1/integrations/nope",
            Value::Null,
            404,
            "not_found",
            "nope",
        ),
        (
            "POST",
            "/api/v1/keys",
            json!({"name": "k", "permission": "root"}),
            400,
            "invalid_input",
            "permission",
        ),
        (
            "GET",
            "/api/v1/nothing-here",
            Value::Null,
            404,
            "not_found",
            "route",
        ),
    ];
    for (method, path, body, status, code, mention) in cases {
        let body = (!body.is_null()).then_some(body);
        let (got, value) = server.call(method, path, admin, body.as_ref());
        assert_eq!(got, status, "{method} {path} {body:?}: {value}");
        assert_eq!(value["error"]["code"], code, "{method} {path}: {value}");
        let message = value["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(mention),
            "{method} {path}: message {message:?} should name {mention:?}"
        );
    }
    // Malformed JSON and an oversized body.
    let raw = |body: String| {
        let mut r = crate::common::agent()
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
    // Nothing half-written: still exactly the one integration and no connection.
    assert_eq!(
        server.ok("GET", "/api/v1/integrations", None)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server.ok("GET", "/api/v1/connectedAccounts", None)["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn reads_are_redacted_and_reveal_needs_the_permission() {
    let server = Server::start();
    let canary = "ghp_CANARY_reveal_7f3a9c";
    let integration = create_bearer_integration(&server, "github");
    let id = integration["id"].as_str().unwrap();
    let created = server.ok(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": id, "userUuid": "bob", "data": {"token": canary}})),
    );
    let conn = created["connectedAccountId"].as_str().unwrap();

    let use_key = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "agent", "permission": "use"})),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let reveal_key = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "lib", "permission": "reveal"})),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let other_entity = server.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "eve", "permission": "reveal", "entityId": "eve"})),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();

    for key in [&use_key, &reveal_key, &server.admin] {
        for path in [
            format!("/api/v1/connectedAccounts/{conn}"),
            "/api/v1/connectedAccounts".into(),
            "/api/v1/integrations".into(),
            format!("/api/v1/integrations/{id}"),
        ] {
            let (status, mut value) = server.call("GET", &path, Some(key), None);
            assert_eq!(status, 200);
            // A `reveal` key (and only it) reads the live header the Composio SDK uses;
            // everything else stays redacted.
            if key == &reveal_key && path.contains("connectedAccounts") {
                let account = match value.get_mut("items") {
                    Some(items) => &mut items[0],
                    None => &mut value,
                };
                let headers = account["connectionParams"]
                    .as_object_mut()
                    .unwrap()
                    .remove("headers");
                assert_eq!(
                    headers,
                    Some(json!({"Authorization": format!("Bearer {canary}")}))
                );
            }
            assert!(
                !value.to_string().contains(canary),
                "{path} leaked the secret"
            );
        }
    }
    let path = format!("/api/v1/connectedAccounts/{conn}/credentials");
    let (status, value) = server.call("GET", &path, Some(&use_key), None);
    assert_eq!(
        (status, value["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(!value.to_string().contains(canary));
    let (status, value) = server.call("GET", &path, Some(&reveal_key), None);
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["credentials"]["token"], canary);
    let (status, _) = server.call("GET", &path, Some(&other_entity), None);
    assert_eq!(
        status, 404,
        "an entity-restricted key does not see other entities' connections"
    );
    let (status, _) = server.call(
        "POST",
        "/api/v1/keys",
        Some(&use_key),
        Some(&json!({"name": "x"})),
    );
    assert_eq!(status, 403, "only admin keys mint keys");

    // Revoked keys stop working at once; keys are listed without their values.
    let keys = server.ok("GET", "/api/v1/keys", None);
    assert!(!keys.to_string().contains(&reveal_key));
    let reveal_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "lib")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.ok("DELETE", &format!("/api/v1/keys/{reveal_id}"), None);
    let (status, _) = server.call("GET", &path, Some(&reveal_key), None);
    assert_eq!(status, 401);
    // Disabled connections do not hand out credentials.
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn}/disable"),
        Some(&json!({})),
    );
    let (status, value) = server.call("GET", &path, Some(&server.admin), None);
    assert_eq!(status, 409, "{value}");
    assert!(
        value["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect")
    );
}

#[test]
fn apps_come_from_the_catalog_in_composio_shapes() {
    let server = Server::start();
    let list = server.ok("GET", "/api/v1/apps", None);
    let apps = list["items"].as_array().unwrap();
    assert!(apps.len() >= 60, "{} apps", apps.len());
    let modes = [
        "OAUTH2",
        "OAUTH1",
        "API_KEY",
        "BASIC",
        "BEARER_TOKEN",
        "BASIC_WITH_JWT",
        "GOOGLE_SERVICE_ACCOUNT",
        "NO_AUTH",
    ];
    for app in apps {
        for field in ["name", "key", "appId", "description", "categories", "meta"] {
            assert!(!app[field].is_null(), "{} lacks {field}", app["key"]);
        }
        assert!(app.get("message").is_none());
        for scheme in app["auth_schemes"].as_array().unwrap() {
            assert!(
                modes.contains(&scheme["auth_mode"].as_str().unwrap()),
                "{scheme}"
            );
            for f in scheme["fields"].as_array().unwrap() {
                assert!(
                    f["name"].is_string() && f["description"].is_string() && f["type"].is_string(),
                    "{f}"
                );
            }
        }
    }
    let github = server.ok("GET", "/api/v1/apps/GITHUB", None);
    assert_eq!(github["key"], "github");
    let schemes = github["auth_schemes"].as_array().unwrap();
    let oauth = schemes.iter().find(|s| s["auth_mode"] == "OAUTH2").unwrap();
    let client_id = oauth["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "client_id")
        .unwrap();
    assert_eq!(client_id["expected_from_customer"], false);
    let bearer = schemes
        .iter()
        .find(|s| s["auth_mode"] == "BEARER_TOKEN")
        .unwrap();
    let token = bearer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "token")
        .unwrap();
    assert_eq!(
        (
            token["expected_from_customer"].as_bool(),
            token["is_secret"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let (status, body) = server.call("GET", "/api/v1/apps/nosuchapp", Some(&server.admin), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let found = server.ok("GET", "/api/v1/apps?search=git", None);
    let keys: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"github") && keys.contains(&"gitlab") && !keys.contains(&"slack"),
        "{keys:?}"
    );
}

#[test]
fn a_broken_provider_override_is_reported_and_the_builtin_catalog_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(dir.join("providers")).unwrap();
    std::fs::write(
        dir.join("providers/broken.json"),
        r#"{"apps": [{"key": "x", "name": 3}]}"#,
    )
    .unwrap();
    let server = Server::start_in(&dir, crate::common::PASSPHRASE)
        .expect("serves despite a broken override");
    assert!(
        server.log().contains("broken.json"),
        "the warning names the file"
    );
    assert_eq!(
        server.ok("GET", "/api/v1/apps/github", None)["key"],
        "github"
    );
}
