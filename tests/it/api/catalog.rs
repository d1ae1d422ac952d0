//! The app catalog in the Composio shapes, and a broken user override reported without
//! losing the built-in catalog.

use crate::common::{PASSPHRASE, Server};

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
