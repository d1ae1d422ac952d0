//! Authentication on every route, redaction on every read, and reveal only with the
//! permission: what each kind of API key may do.

use serde_json::json;

use crate::common::{Server, agent, call, error_message};

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
                .replace("{app}", "github")
                .replace("{nanoid}", "ac_00000000000040008000000000000000")
                .replace("{status}", "ENABLED")
                .replace("{slug}", "github")
                .replace("{tool_slug}", "GITHUB_GET_THE_AUTHENTICATED_USER");
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
            // The v3 envelope carries keyport's code as `slug` (its `code` is the status).
            let code = match path.starts_with("/api/v3") {
                true => &value["error"]["slug"],
                false => &value["error"]["code"],
            };
            assert_eq!(code, "unauthorized", "{method} {path}: {value}");
        }
        // Authorization: Bearer works as well as x-api-key, and a wrong one is refused.
        let url = format!("{}{path}", server.url);
        let response = agent()
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
    let response = agent()
        .get(format!("{}/api/v1/integrations", server.url))
        .header("authorization", format!("Bearer {}", server.admin))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    println!("401 checked on {} routes x 3 keys", routes.len());
}

const CANARY: &str = "ghp_CANARY_reveal_7f3a9c";

/// Mints an API key with `body`; returns its value.
#[test]
fn reads_are_redacted_and_reveal_needs_the_permission() {
    let server = Server::start();
    let integration =
        server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let id = integration["id"].as_str().unwrap();
    let created = server.create_connection(
        json!({"integrationId": id, "userUuid": "bob", "data": {"token": CANARY}}),
    );
    let conn = created["connectedAccountId"].as_str().unwrap();
    let use_key = server.mint_key(json!({"name": "agent", "permission": "use"}));
    let reveal_key = server.mint_key(json!({"name": "lib", "permission": "reveal"}));
    let other_entity =
        server.mint_key(json!({"name": "eve", "permission": "reveal", "entityId": "eve"}));
    for key in [&use_key, &reveal_key, &server.admin] {
        reads_are_redacted(&server, key, key == &reveal_key, id, conn);
    }
    let path = format!("/api/v1/connectedAccounts/{conn}/credentials");
    let (status, value) = server.call("GET", &path, Some(&use_key), None);
    assert_eq!(
        (status, value["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(!value.to_string().contains(CANARY));
    let (status, value) = server.call("GET", &path, Some(&reveal_key), None);
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["credentials"]["token"], CANARY);
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
    revoked_keys_and_disabled_connections_reveal_nothing(&server, &reveal_key, conn);
}

/// Every read `key` can make shows the connection redacted; a `reveal` key (and only it)
/// reads the live header the Composio SDK uses.
fn reads_are_redacted(server: &Server, key: &str, reveals: bool, id: &str, conn: &str) {
    for path in [
        format!("/api/v1/connectedAccounts/{conn}"),
        "/api/v1/connectedAccounts".into(),
        "/api/v1/integrations".into(),
        format!("/api/v1/integrations/{id}"),
    ] {
        let (status, mut value) = server.call("GET", &path, Some(key), None);
        assert_eq!(status, 200);
        if reveals && path.contains("connectedAccounts") {
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
                Some(json!({"Authorization": format!("Bearer {CANARY}")}))
            );
        }
        assert!(
            !value.to_string().contains(CANARY),
            "{path} leaked the secret"
        );
    }
}

/// Revoked keys stop working at once; keys are listed without their values; disabled
/// connections do not hand out credentials.
fn revoked_keys_and_disabled_connections_reveal_nothing(
    server: &Server,
    reveal_key: &str,
    conn: &str,
) {
    let path = format!("/api/v1/connectedAccounts/{conn}/credentials");
    let keys = server.ok("GET", "/api/v1/keys", None);
    assert!(!keys.to_string().contains(reveal_key));
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
    let (status, _) = server.call("GET", &path, Some(reveal_key), None);
    assert_eq!(status, 401);
    server.ok(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn}/disable"),
        Some(&json!({})),
    );
    let (status, value) = server.call("GET", &path, Some(&server.admin), None);
    assert_eq!(status, 409, "{value}");
    assert!(error_message(&value).contains("reconnect"));
}
