//! The v3.1 wire shapes the current SDKs read, pinned like the v1 ones (`wire.rs`): real
//! answers of a running keyport, normalized, must equal `tests/it/golden/v3_*.json`
//! (`KEYPORT_BLESS=1` rewrites them). Beside the shapes: both prefixes serve the same
//! handlers, every surface accepts the ids the other hands out, and errors under /api/v3*
//! come in the v3 envelope, the guard's included.

use serde_json::{Value, json};

use crate::common::Server;
use crate::wire::{golden_server, pin};

const V3: &str = "/api/v3.1";

fn post(server: &Server, path: &str, body: Value) -> Value {
    server.ok("POST", &format!("{V3}{path}"), Some(&body))
}

fn get(server: &Server, path: &str) -> Value {
    server.ok("GET", &format!("{V3}{path}"), None)
}

/// A v3 GET the admin key makes is refused as a 400 `invalid_input`.
fn refused_as_invalid(server: &Server, path: &str) {
    let (status, body) = server.call("GET", &format!("{V3}{path}"), Some(&server.admin), None);
    assert_eq!(
        (status, &body["error"]["slug"]),
        (400, &json!("invalid_input")),
        "{path}: {body}"
    );
}

#[test]
fn auth_configs_and_connected_accounts_match_the_goldens() {
    let server = golden_server();
    let oauth = post(
        &server,
        "/auth_configs",
        json!({"toolkit": {"slug": "goldenapp"},
        "auth_config": {"type": "use_custom_auth", "authScheme": "OAUTH2", "name": "golden-oauth",
            "credentials": {"client_id": "cid", "client_secret": "s3cret", "scopes": ["read"]}}}),
    );
    pin(&server, "v3_created_auth_config", &oauth);
    let oauth_id = oauth["auth_config"]["id"].as_str().unwrap().to_string();
    pin(
        &server,
        "v3_auth_config",
        &get(&server, &format!("/auth_configs/{oauth_id}")),
    );
    let key = post(
        &server,
        "/auth_configs",
        json!({"toolkit": {"slug": "goldenapp"},
        "auth_config": {"type": "use_custom_auth", "auth_scheme": "API_KEY", "name": "golden-key",
            "shared_credentials": {"subdomain": "acme"}}}),
    );
    let key_id = key["auth_config"]["id"].as_str().unwrap().to_string();
    let mut accounts = Vec::new();
    for secret in ["k-1", "k-2"] {
        let created = post(
            &server,
            "/connected_accounts",
            json!({"auth_config": {"id": key_id},
            "connection": {"user_id": "alice",
                "state": {"authScheme": "API_KEY", "val": {"status": "ACTIVE", "api_key": secret}}}}),
        );
        pin(&server, "v3_created_connected_account", &created);
        accounts.push(created["id"].as_str().unwrap().to_string());
    }
    pin(
        &server,
        "v3_connected_account",
        &get(&server, &format!("/connected_accounts/{}", accounts[0])),
    );
    let first = get(&server, "/connected_accounts?user_ids=alice&limit=1");
    pin(&server, "v3_connected_account_list", &first);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(
        &server,
        &format!("/connected_accounts?user_ids=alice&limit=1&cursor={cursor}"),
    );
    assert_eq!(second["items"][0]["id"], accounts[1].as_str(), "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    pin(
        &server,
        "v3_auth_config_list",
        &get(&server, "/auth_configs?toolkit_slug=goldenapp"),
    );
    let link = post(
        &server,
        "/connected_accounts/link",
        json!({"auth_config_id": oauth_id, "user_id": "bob",
            "connection_data": {"authScheme": "OAUTH2", "val": {"subdomain": "acme"}}}),
    );
    pin(&server, "v3_link", &link);
    let changed = server.ok(
        "PATCH",
        &format!("{V3}/connected_accounts/{}/status", accounts[1]),
        Some(&json!({"enabled": false})),
    );
    pin(&server, "v3_success", &changed);
    let gone = server.ok(
        "DELETE",
        &format!("{V3}/connected_accounts/{}", accounts[1]),
        None,
    );
    assert_eq!(gone["success"], true);
    let revoked = get(&server, &format!("/connected_accounts/{}", accounts[1]));
    assert_eq!(revoked["status"], "REVOKED", "{revoked}");
}

#[test]
fn toolkits_tools_and_errors_match_the_goldens() {
    let server = golden_server();
    // The older prefix serves the same handlers.
    let toolkit = server.ok("GET", "/api/v3/toolkits/goldenapp", None);
    assert_eq!(toolkit, get(&server, "/toolkits/goldenapp"));
    pin(&server, "v3_toolkit", &toolkit);
    pin(&server, "v3_tool", &get(&server, "/tools/NOTION_SEARCH"));
    let (status, missing) = server.call(
        "GET",
        &format!("{V3}/auth_configs/ac_{}", "0".repeat(32)),
        Some(&server.admin),
        None,
    );
    assert_eq!(status, 404);
    pin(&server, "v3_error", &missing);
    let (status, refused) = server.call("GET", &format!("{V3}/toolkits"), None, None);
    assert_eq!(status, 401);
    assert_eq!(refused["error"]["slug"], "unauthorized", "{refused}");
    assert_eq!(refused["error"]["code"], 401, "{refused}");
    let (status, legacy) = server.call("GET", "/api/v1/apps", None, None);
    assert_eq!(
        (status, &legacy["error"]["code"]),
        (401, &json!("unauthorized"))
    );
    refused_as_invalid(&server, "/connected_accounts?cursor=nope");
}

#[test]
fn each_surface_accepts_the_ids_the_other_hands_out() {
    let server = Server::start();
    let v1 = server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let uuid = v1["id"].as_str().unwrap();
    let through_v3 = get(&server, &format!("/auth_configs/{uuid}"));
    assert_eq!(through_v3["uuid"], uuid);
    let ac = through_v3["id"].as_str().unwrap();
    assert_eq!(
        server.ok("GET", &format!("/api/v1/integrations/{ac}"), None)["id"],
        uuid
    );
    let created = post(
        &server,
        "/connected_accounts",
        json!({"auth_config": {"id": uuid},
        "connection": {"user_id": "alice", "data": {"token": "ghp_x"}}}),
    );
    let ca = created["id"].as_str().unwrap();
    let legacy = server.ok("GET", &format!("/api/v1/connectedAccounts/{ca}"), None);
    assert_eq!(legacy["integrationId"], uuid);
    assert_eq!(legacy["entityId"], "alice");
    let again = get(
        &server,
        &format!("/connected_accounts/{}", legacy["id"].as_str().unwrap()),
    );
    assert_eq!(again["id"], ca);
    assert_eq!(again["auth_config"]["id"], ac);
    // An account made through v1 is complete through v3, and the other way round.
    let made_v1 = server.create_connection(json!({"integrationId": ac, "userUuid": "bob",
        "data": {"token": "ghp_y"}}));
    let id = made_v1["connectedAccountId"].as_str().unwrap();
    let seen = get(&server, &format!("/connected_accounts/{id}"));
    assert_eq!(
        (seen["user_id"].as_str(), seen["status"].as_str()),
        (Some("bob"), Some("ACTIVE"))
    );
    assert_eq!(seen["state"]["val"]["token"], "********", "{seen}");
    // Filters by account ids in either spelling, and orders by last update.
    let ids = format!("{ca},{id}");
    let both = get(
        &server,
        &format!("/connected_accounts?connected_account_ids={ids}"),
    );
    assert_eq!(both["total_items"], 2, "{both}");
    // Timestamps have millisecond resolution: the change must come after the creation.
    std::thread::sleep(std::time::Duration::from_millis(5));
    server.ok(
        "PATCH",
        &format!("{V3}/connected_accounts/{ca}/status"),
        Some(&json!({"enabled": false})),
    );
    let recent = get(
        &server,
        "/connected_accounts?order_by=updated_at&order_direction=desc&limit=1",
    );
    assert_eq!(recent["items"][0]["id"], ca, "{recent}");
    refused_as_invalid(&server, "/connected_accounts?order_by=name");
}

#[test]
fn token_schemes_are_active_at_once_through_v3() {
    let server = Server::start();
    let basic = json!({"status": "ACTIVE", "username": "u", "password": "p4ss"});
    let key = json!({"status": "ACTIVE", "api_key": "secret_k"});
    for (toolkit, scheme, val, secret) in [
        ("bitbucket", "BASIC", basic, Some("password")),
        ("hackernews", "NO_AUTH", json!({"status": "ACTIVE"}), None),
        ("notion", "API_KEY", key, Some("api_key")),
    ] {
        let created = post(
            &server,
            "/auth_configs",
            json!({"toolkit": {"slug": toolkit},
            "auth_config": {"type": "use_custom_auth", "auth_scheme": scheme}}),
        );
        let ac = created["auth_config"]["id"].as_str().unwrap();
        let account = post(
            &server,
            "/connected_accounts",
            json!({"auth_config": {"id": ac},
            "connection": {"user_id": "erin", "state": {"authScheme": scheme, "val": val}}}),
        );
        assert_eq!(account["status"], "ACTIVE", "{toolkit}: {account}");
        assert_eq!(account["connectionData"]["authScheme"], scheme, "{account}");
        let read = get(
            &server,
            &format!("/connected_accounts/{}", account["id"].as_str().unwrap()),
        );
        assert_eq!(read["status"], "ACTIVE", "{read}");
        if let Some(secret) = secret {
            assert_eq!(read["state"]["val"][secret], "********", "{read}");
        }
    }
}
