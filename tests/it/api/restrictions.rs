//! Key restrictions as a user sets them: checked when the key is minted, shown in key
//! listings (API and CLI), obeyed when the key acts — each refusal naming its restriction
//! and reaching no provider — and an expired key answering 401 like a revoked one. And the
//! panic button, `keyport keys revoke --all`.

use serde_json::{Value, json};

use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Server, call, keyport, succeeded};

/// Mints a key restricted as `extra` says (a `use` key of alice unless it says otherwise).
fn mint(server: &Server, extra: Value) -> (u16, Value) {
    let mut body = json!({"name": "agent", "permission": "use", "entityId": "alice"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    server.as_admin("POST", "/api/v1/keys", Some(&body))
}

fn key_of(created: (u16, Value)) -> String {
    assert_eq!(created.0, 200, "{}", created.1);
    created.1["key"].as_str().unwrap().to_string()
}

/// Restrictions a key cannot be minted with: the body added, the status and error code,
/// and what the message names. What the API document says is a 400; an unknown name a
/// 404; a contradiction a 409.
const REFUSED_AT_MINT: &[(&str, u16, &str, &str)] = &[
    (r#"{"expiresIn": 0}"#, 400, "invalid_input", "expiresIn"),
    (
        r#"{"expiresAt": "tomorrow"}"#,
        400,
        "invalid_input",
        "expiresAt",
    ),
    (
        r#"{"allowedApps": []}"#,
        400,
        "invalid_input",
        "allowedApps",
    ),
    (
        r#"{"allowedMethods": ["BREW"]}"#,
        400,
        "invalid_input",
        "allowedMethods",
    ),
    (
        r#"{"allowedMethods": []}"#,
        400,
        "invalid_input",
        "allowedMethods",
    ),
    (
        r#"{"allowedApps": ["nope"]}"#,
        404,
        "not_found",
        "allowedApps",
    ),
    (
        r#"{"allowedActions": ["NOPE_X"]}"#,
        404,
        "not_found",
        "allowedActions",
    ),
    (
        r#"{"expiresAt": "2001-01-01T00:00:00Z"}"#,
        409,
        "conflict",
        "expiresAt",
    ),
    (
        r#"{"expiresIn": 60, "expiresAt": "2001-01-01T00:00:00Z"}"#,
        409,
        "conflict",
        "has passed",
    ),
    (
        r#"{"allowedApps": ["slack"], "allowedActions": ["GITHUB_CREATE_AN_ISSUE"]}"#,
        409,
        "conflict",
        "allowedApps leaves github out",
    ),
    (
        r#"{"permission": "admin", "allowedApps": ["github"]}"#,
        409,
        "conflict",
        "admin",
    ),
];

#[test]
fn restrictions_are_checked_when_minted() {
    let server = Server::start();
    for (extra, status, code, names) in REFUSED_AT_MINT {
        let extra: Value = serde_json::from_str(extra).unwrap();
        let (got, answer) = mint(&server, extra.clone());
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (*status, Some(*code)),
            "{extra}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{extra}: {message}");
    }
}

#[test]
fn restrictions_are_normalised_and_listed() {
    let server = Server::start();
    // Both expiries given: the earlier wins.
    let (_, both) = mint(
        &server,
        json!({"expiresIn": 60, "expiresAt": "2099-01-01T00:00:00Z"}),
    );
    assert!(both["expiresAt"].as_str().unwrap() < "2090", "{both}");
    let (status, created) = mint(
        &server,
        json!({"expiresAt": "2099-01-01T00:00:00+02:00", "allowedApps": ["GitHub", "github"],
            "allowedActions": ["github_get_the_authenticated_user"],
            "allowedMethods": ["get", "HEAD", "GET"]}),
    );
    assert_eq!(status, 200, "{created}");
    let listed = server.ok("GET", "/api/v1/keys", None);
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert_eq!(row["expiresAt"], "2098-12-31T22:00:00.000Z");
    assert_eq!(row["allowedApps"], json!(["github"]));
    assert_eq!(
        row["allowedActions"],
        json!(["GITHUB_GET_THE_AUTHENTICATED_USER"])
    );
    assert_eq!(row["allowedMethods"], json!(["GET", "HEAD"]));
    let admin_row = &listed["items"][0];
    assert_eq!(
        (
            admin_row["expiresAt"].clone(),
            admin_row["allowedApps"].clone()
        ),
        (Value::Null, Value::Null)
    );
}

#[test]
fn an_expired_key_answers_401_like_a_revoked_one_on_every_surface() {
    let server = Server::start();
    let brief = key_of(mint(&server, json!({"expiresIn": 1})));
    let info = "/api/v1/client/auth/client_info";
    assert_eq!(server.call("GET", info, Some(&brief), None).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    for path in [info, "/api/v1/connectedAccounts", "/api/v3.1/tools"] {
        let (status, answer) = server.call("GET", path, Some(&brief), None);
        assert_eq!(status, 401, "{path}: {answer}");
    }
    let (status, _) = server.call("POST", "/mcp", Some(&brief), Some(&json!({})));
    assert_eq!(status, 401);
}

/// A GitHub connection of alice through a stand-in that answers `{"ok": true}`.
fn github(server: &Server) -> (Upstream, String) {
    let upstream = Upstream::start(|_| json_reply(200, json!({"ok": true})));
    let id = server.bearer(
        "github",
        &upstream.base,
        "alice",
        "ghp_restricted_0123456789",
    );
    (upstream, id)
}

/// `POST path` with `body` under `key`: the status, the error code, and how many requests
/// the stand-in got for it.
fn act(server: &Server, up: &Upstream, key: &str, path: &str, body: Value) -> (u16, String, usize) {
    let before = up.count();
    let (status, answer) = call(&server.url, "POST", path, Some(key), Some(&body));
    let code = answer["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if status == 403 {
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allowed"),
            "{answer}"
        );
    }
    (status, code, up.count() - before)
}

#[test]
fn restricted_keys_act_only_within_their_restrictions() {
    let server = Server::start();
    let (up, id) = github(&server);
    let proxy = |method: &str| {
        let body = match method {
            "POST" | "PUT" => json!({"a": 1}),
            _ => Value::Null,
        };
        let body =
            json!({"connectedAccountId": id, "endpoint": "/user", "method": method, "body": body});
        ("/api/v2/actions/proxy".to_string(), body)
    };
    let run = |name: &str| {
        let input = match name.contains("CREATE") {
            true => json!({"owner": "o", "repo": "r", "title": "t"}),
            false => json!({}),
        };
        let body = json!({"connectedAccountId": id, "input": input});
        (format!("/api/v2/actions/{name}/execute"), body)
    };
    let (read, write) = (
        || run("GITHUB_GET_THE_AUTHENTICATED_USER"),
        || run("GITHUB_CREATE_AN_ISSUE"),
    );
    let ok = (200, String::new(), 1);
    let refused = |code: &str| (403, code.to_string(), 0);
    let slack_only = key_of(mint(&server, json!({"allowedApps": ["slack"]})));
    // Each key (minted with its restrictions), what it asks for, and the answer.
    let cases = [
        (
            json!({"allowedMethods": ["GET", "HEAD"]}),
            vec![
                (proxy("GET"), ok.clone()),
                (proxy("DELETE"), refused("restricted_method")),
                (read(), ok.clone()),
                (write(), refused("restricted_method")),
            ],
        ),
        (
            json!({"allowedMethods": ["GET", "POST"]}),
            vec![
                (write(), ok.clone()),
                (proxy("PUT"), refused("restricted_method")),
            ],
        ),
        (
            json!({"allowedActions": ["GITHUB_GET_THE_AUTHENTICATED_USER"]}),
            vec![
                (read(), ok.clone()),
                (write(), refused("restricted_action")),
                (proxy("GET"), refused("restricted_action")),
            ],
        ),
        (
            json!({"allowedApps": ["github"], "expiresIn": 600}),
            vec![(proxy("POST"), ok.clone())],
        ),
    ];
    for (restrictions, calls) in cases {
        let key = key_of(mint(&server, restrictions.clone()));
        for ((path, body), expected) in calls {
            let got = act(&server, &up, &key, &path, body);
            assert_eq!(got, expected, "{restrictions}: {path}");
        }
    }
    for (path, body) in [proxy("GET"), read()] {
        let got = act(&server, &up, &slack_only, &path, body);
        assert_eq!(got, refused("restricted_app"), "{path}");
    }
    // Reads of connection metadata are not restricted by apps.
    let (status, _) = server.call(
        "GET",
        &format!("/api/v1/connectedAccounts/{id}"),
        Some(&slack_only),
        None,
    );
    assert_eq!(status, 200);
}

/// The CLI: `keys create` with restriction flags, `keys list` showing them, and the panic
/// button revoking every non-admin key at once and saying how many.
#[test]
fn the_panic_button_revokes_every_non_admin_key() {
    let server = Server::start();
    let cli = |args: &[&str]| {
        let out = keyport(&server.dir).args(args).output().unwrap();
        succeeded(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let created = cli(&[
        "--json",
        "keys",
        "create",
        "--name",
        "agent",
        "--entity",
        "alice",
        "--expires-in",
        "600",
        "--allowed-apps",
        "github,slack",
        "--allowed-methods",
        "GET",
    ]);
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["allowedApps"], json!(["github", "slack"]));
    assert_eq!(created["allowedMethods"], json!(["GET"]));
    assert!(created["expiresAt"].is_string());
    let table = cli(&["keys", "list"]);
    assert!(
        table.contains("github,slack") && table.contains("GET"),
        "{table}"
    );
    let mut keys = vec![created["key"].as_str().unwrap().to_string()];
    for permission in ["use", "manage", "reveal"] {
        keys.push(key_of(mint(&server, json!({"permission": permission}))));
    }
    let second_admin = key_of(mint(
        &server,
        json!({"permission": "admin", "entityId": ""}),
    ));
    let info = "/api/v1/client/auth/client_info";
    for key in &keys {
        assert_eq!(server.call("GET", info, Some(key), None).0, 200);
    }
    let said = cli(&["keys", "revoke", "--all"]);
    assert!(said.contains("revoked 4 API keys"), "{said}");
    for key in &keys {
        assert_eq!(server.call("GET", info, Some(key), None).0, 401);
    }
    for key in [&server.admin, &second_admin] {
        assert_eq!(server.call("GET", info, Some(key), None).0, 200);
    }
    let again: Value = serde_json::from_str(&cli(&["--json", "keys", "revoke", "--all"])).unwrap();
    assert_eq!(again, json!({"revoked": 0}));
    let out = keyport(&server.dir)
        .args(["keys", "revoke"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "revoke needs an id or --all");
}
