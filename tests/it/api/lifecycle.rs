//! Integrations and connections through their whole life, in the shapes the Composio SDK
//! reads: create, list and filter, disable and enable, delete, update.

use serde_json::{Value, json};

use crate::common::Server;

/// `items` of a list answer.
fn items(list: &Value) -> &Vec<Value> {
    list["items"].as_array().unwrap()
}

fn assert_fields(value: &Value, fields: &[&str], what: &str) {
    for field in fields {
        assert!(!value[field].is_null(), "{what} lacks {field}: {value}");
    }
}

#[test]
fn integration_and_connection_lifecycle_in_composio_shapes() {
    let server = Server::start();
    let id = integrations_in_composio_shapes(&server);
    let (conn_id, other_id) = connections_in_composio_shapes(&server, &id);
    disable_and_enable(&server, &conn_id);

    // delete -> DELETED, gone from default lists, secrets wiped
    assert_eq!(
        server.ok(
            "DELETE",
            &format!("/api/v1/connectedAccounts/{conn_id}"),
            None
        )["status"],
        "success"
    );
    let deleted = server.connection(&conn_id);
    assert_eq!(deleted["status"], "DELETED");
    assert_eq!(deleted["connectionParams"]["headers"], json!({}));
    assert!(
        deleted["connectionParams"].get("token").is_none(),
        "{deleted}"
    );
    let (status, _) = server.as_admin(
        "POST",
        &format!("/api/v1/connectedAccounts/{conn_id}/enable"),
        Some(&json!({})),
    );
    assert_eq!(status, 409);
    let remaining = server.ok("GET", "/api/v1/connectedAccounts", None);
    assert_eq!(items(&remaining).len(), 1);

    update_then_delete_the_integration(&server, &id, &other_id);
}

/// Creates the GitHub integrations (by appName and by appId); returns the first's id.
fn integrations_in_composio_shapes(server: &Server) -> String {
    let integration = server
        .integration(json!({"appName": "GitHub", "authScheme": "bearer_token", "name": "gh"}));
    assert_fields(
        &integration,
        &[
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
        ],
        "integration",
    );
    assert_eq!(integration["authScheme"], "BEARER_TOKEN");
    assert_eq!(integration["appName"], "github");
    assert_eq!(integration["expectedInputFields"][0]["name"], "token");
    assert_eq!(integration["expectedInputFields"][0]["is_secret"], true);

    // appId works as well as appName.
    let by_app_id =
        server.integration(json!({"appId": integration["appId"], "authScheme": "BEARER_TOKEN"}));
    assert_eq!(by_app_id["appName"], "github");
    assert!(by_app_id["name"].as_str().unwrap().starts_with("GITHUB_"));

    let list = server.ok("GET", "/api/v1/integrations?appName=github", None);
    assert_eq!(items(&list).len(), 2);
    integration["id"].as_str().unwrap().to_string()
}

/// Creates alice's labelled connection and a default-entity one; checks the shapes and
/// the list filters. Returns both ids.
fn connections_in_composio_shapes(server: &Server, id: &str) -> (String, String) {
    let created = server.create_connection(
        json!({"integrationId": id, "userUuid": "alice", "data": {"token": "ghp_lifecycle"}, "labels": ["work"], "redirectUri": null}),
    );
    assert_eq!(created["connectionStatus"], "ACTIVE");
    let conn_id = created["connectedAccountId"].as_str().unwrap().to_string();

    // Entity defaults to "default".
    let other =
        server.create_connection(json!({"integrationId": id, "data": {"token": "ghp_other"}}));
    let other_id = other["connectedAccountId"].as_str().unwrap().to_string();
    assert_eq!(server.connection(&other_id)["entityId"], "default");

    let got = server.connection(&conn_id);
    assert_fields(
        &got,
        &[
            "id",
            "status",
            "createdAt",
            "updatedAt",
            "appUniqueId",
            "appName",
            "integrationId",
            "connectionParams",
            "clientUniqueUserId",
        ],
        "connection",
    );
    assert_eq!(got["connectionParams"]["token"], "********");
    assert_eq!(got["appUniqueId"], "github");
    assert_eq!(got["labels"], json!(["work"]));

    for (query, count) in [
        ("?user_uuid=alice&showActiveOnly=true", 1),
        ("?labels=work", 1),
        ("?appNames=GITHUB", 2),
    ] {
        let list = server.ok("GET", &format!("/api/v1/connectedAccounts{query}"), None);
        assert_eq!(items(&list).len(), count, "{query}");
    }
    let entities = server.ok("GET", "/api/v1/entities", None);
    let names: Vec<&str> = items(&entities)
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "default"]);
    (conn_id, other_id)
}

/// disable -> INACTIVE (not in active-only lists) -> enable -> ACTIVE
fn disable_and_enable(server: &Server, conn_id: &str) {
    let disable = format!("/api/v1/connectedAccounts/{conn_id}/disable");
    let disabled = server.ok("POST", &disable, Some(&json!({})));
    assert_eq!(disabled["status"], "INACTIVE");
    let active = server.ok(
        "GET",
        "/api/v1/connectedAccounts?user_uuid=alice&showActiveOnly=true",
        None,
    );
    assert_eq!(items(&active).len(), 0);
    let (status, err) = server.as_admin("POST", &disable, Some(&json!({})));
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
}

/// update, then delete the integration: its connections go with it
fn update_then_delete_the_integration(server: &Server, id: &str, other_id: &str) {
    let updated = server.ok(
        "PATCH",
        &format!("/api/v1/integrations/{id}"),
        Some(&json!({"name": "renamed", "enabled": false})),
    );
    assert_eq!(
        (updated["name"].as_str(), updated["enabled"].as_bool()),
        (Some("renamed"), Some(false))
    );
    let (status, err) = server.as_admin(
        "POST",
        "/api/v1/connectedAccounts",
        Some(&json!({"integrationId": id, "data": {"token": "x"}})),
    );
    assert_eq!(
        status, 409,
        "disabled integration refuses connections: {err}"
    );
    let gone = server.ok("DELETE", &format!("/api/v1/integrations/{id}"), None);
    assert_eq!(gone["deletedConnections"], 1);
    let (status, _) = server.as_admin(
        "GET",
        &format!("/api/v1/connectedAccounts/{other_id}"),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(server.connection(other_id)["status"], "DELETED");
}
