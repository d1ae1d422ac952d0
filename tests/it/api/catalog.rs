//! The app catalog in the Composio shapes, and a broken user override reported without
//! losing the built-in catalog.

use serde_json::Value;

use crate::common::{PASSPHRASE, Server};

/// The field `name` of `app`'s auth scheme `mode`.
fn field<'a>(app: &'a Value, mode: &str, name: &str) -> &'a Value {
    let scheme = app["auth_schemes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["auth_mode"] == mode)
        .unwrap();
    scheme["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()
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
    let client_id = field(&github, "OAUTH2", "client_id");
    assert_eq!(client_id["expected_from_customer"], false);
    let token = field(&github, "BEARER_TOKEN", "token");
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
    let server = Server::start_in(&dir, PASSPHRASE).expect("serves despite a broken override");
    assert!(
        server.log().contains("broken.json"),
        "the warning names the file"
    );
    assert_eq!(
        server.ok("GET", "/api/v1/apps/github", None)["key"],
        "github"
    );
}
