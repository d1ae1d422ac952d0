//! User catalog files next to the embedded one: overrides, broken files skipped whole, and
//! each entry checked field by field with an error that names the file, app and field.

use std::path::Path;

use serde_json::{Value, json};

use super::super::parse::{Origin, parse_file};
use super::super::*;
use super::{builtin, integration_fields};

const OVERRIDE: &str = r#"{"apps": [
  {"key": "github", "name": "GitHub Enterprise", "description": "Our GitHub Enterprise Server.",
   "base_url": "https://github.example.com/api/v3",
   "auth_schemes": [{"mode": "BEARER_TOKEN"}]},
  {"key": "localthing", "name": "Local thing", "description": "A test provider on loopback.",
   "categories": ["testing"], "base_url": "http://127.0.0.1:8099/api",
   "whoami": {"method": "GET", "path": "/me"},
   "auth_schemes": [
     {"mode": "OAUTH2", "authorization_url": "http://127.0.0.1:8099/authorize", "token_url": "http://localhost:8099/token",
      "default_scopes": ["read"], "pkce": true, "token_auth": "none"},
     {"mode": "API_KEY", "in": "query", "name": "key"}]}
]}"#;

const BROKEN: &str = r#"{"apps": [
  {"key": "okapp", "name": "OK", "description": "Fine.", "base_url": "https://ok.example", "auth_schemes": [{"mode": "NO_AUTH"}]},
  {"key": "badapp", "name": "Bad", "description": "Typo.", "base_url": "https://bad.example",
   "auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://bad.example/a", "token_url": "https://bad.example/t", "scope": "x"}]}
]}"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn load_applies_overrides_and_reports_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "10-override.json", OVERRIDE);
    write(dir.path(), "20-broken.json", BROKEN);
    write(dir.path(), "notes.txt", "not a catalog");
    let builtin_len = builtin().len();
    let (catalog, errors) = Catalog::load(dir.path());

    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = errors[0].to_string();
    for part in [
        "20-broken.json",
        "\"badapp\"",
        "auth_schemes[0] (OAUTH2)",
        "scope",
    ] {
        assert!(message.contains(part), "{part} not in {message}");
    }
    assert!(
        catalog.get("okapp").is_none(),
        "a broken file is skipped whole"
    );

    let github = catalog.get("github").unwrap();
    assert_eq!(github.name, "GitHub Enterprise");
    assert_eq!(github.schemes.len(), 1, "replaced whole, not merged");
    assert_eq!(github.default_scheme(), AuthScheme::BearerToken);
    let fields = integration_fields(&catalog, "LOCALTHING", AuthScheme::OAuth2);
    assert!(
        !fields
            .iter()
            .find(|f| f.name == "client_secret")
            .unwrap()
            .required
    );
    assert_eq!(catalog.len(), builtin_len + 1);
    assert!(catalog.get("gmail").is_some(), "builtin still there");
}

#[test]
fn load_without_a_directory_is_the_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, errors) = Catalog::load(&dir.path().join("missing"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(catalog.len(), builtin().len());
}

#[test]
fn syntax_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.json", "{\"apps\": [");
    let (catalog, errors) = Catalog::load(dir.path());
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("bad.json"), "{}", errors[0]);
    assert_eq!(catalog.len(), builtin().len());
}

/// One minimal entry with a change applied, parsed as a user file; the error text.
fn reject(patch: Value, origin: Origin) -> String {
    let mut entry = json!({"key": "x", "name": "X", "description": "D.", "base_url": "https://x.example",
        "auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://x.example/a", "token_url": "https://x.example/t"}]});
    for (k, v) in patch.as_object().unwrap() {
        entry[k] = v.clone();
    }
    let text = json!({"apps": [entry]}).to_string();
    match parse_file("user.json", &text, origin) {
        Ok(_) => panic!("accepted {patch}"),
        Err(e) => e.to_string(),
    }
}

/// `{"auth_schemes": [an OAuth 2.0 scheme with `extra` members]}`, as a patch.
fn oauth2_with(extra: Value) -> Value {
    let mut scheme = json!({"mode": "OAUTH2", "authorization_url": "https://x.example/a",
        "token_url": "https://x.example/t"});
    for (k, v) in extra.as_object().unwrap() {
        scheme[k] = v.clone();
    }
    json!({ "auth_schemes": [scheme] })
}

/// Patches to an entry's own members, and what the error must name.
fn app_cases() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"key": "Git Hub"}), "key"),
        (json!({"base_url": "http://x.example"}), "base_url"),
        (json!({"base_url": "ftp://x.example"}), "base_url"),
        (
            json!({"base_url": "https://{tenant}.x.example"}),
            "base_url",
        ),
        (
            json!({"variables": [{"name": "tenant", "display_name": "T", "description": "T."}]}),
            "variables.tenant",
        ),
        (
            json!({"headers": {"Authorization": "Bearer x"}}),
            "headers.Authorization",
        ),
        (
            json!({"whoami": {"method": "DELETE", "path": "/me"}}),
            "whoami: unknown variant `DELETE`",
        ),
        (
            json!({"categories": "crm"}),
            "app \"x\": categories: invalid type",
        ),
        (json!({"name": 5}), "app \"x\": name: invalid type"),
        (json!({"colour": "red"}), "unknown field `colour`"),
    ]
}

/// Patches to an entry's schemes, and what the error must name.
fn scheme_cases() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"auth_schemes": []}), "auth_schemes"),
        (
            json!({"auth_schemes": [{"mode": "NO_AUTH"}, {"mode": "NO_AUTH"}]}),
            "auth_schemes[1] (NO_AUTH)",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH3"}]}),
            "auth_schemes[0] (OAUTH3)",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://x.example/a"}]}),
            "token_url",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH1", "authorization_url": "https://x.example/a", "access_token_url": "https://x.example/t"}]}),
            "request_token_url",
        ),
        (
            oauth2_with(json!({"authorization_params": {"redirect_uri": "https://evil.example"}})),
            "authorization_params.redirect_uri",
        ),
        (
            oauth2_with(json!({"scope_separator": ";"})),
            "scope_separator",
        ),
        (
            oauth2_with(json!({"pkce": "yes"})),
            "auth_schemes[0] (OAUTH2).pkce: invalid type",
        ),
        (
            oauth2_with(json!({"authorization_url": 7})),
            "auth_schemes[0] (OAUTH2).authorization_url: invalid type",
        ),
        (
            json!({"auth_schemes": [{"mode": "BEARER_TOKEN", "token": "x"}]}),
            "auth_schemes[0] (BEARER_TOKEN)",
        ),
        (
            json!({"auth_schemes": [{"mode": "API_KEY", "in": "header", "name": "X", "extra": [{"field": "api_key",
            "display_name": "K", "description": "K.", "in": "header", "name": "Y"}]}]}),
            "two fields are named \"api_key\"",
        ),
    ]
}

#[test]
fn entries_are_checked_field_by_field() {
    for (patch, expected) in app_cases().into_iter().chain(scheme_cases()) {
        let message = reject(patch.clone(), Origin::User);
        assert!(message.starts_with("user.json: app "), "{message}");
        assert!(
            message.contains(expected),
            "{patch}: {expected:?} not in {message}"
        );
    }
    let loopback = json!({"base_url": "http://127.0.0.1:9/x"});
    assert!(reject(loopback, Origin::Builtin).contains("base_url"));
}

#[test]
fn duplicate_keys_in_one_file_are_refused() {
    let entry = json!({"key": "x", "name": "X", "description": "D.", "base_url": "https://x.example",
        "auth_schemes": [{"mode": "NO_AUTH"}]});
    let text = json!({"apps": [entry, entry]}).to_string();
    let err = parse_file("dup.json", &text, Origin::User)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dup.json") && err.contains("\"x\"") && err.contains("key"),
        "{err}"
    );
}
