//! The catalog lint: the built-in files together hold at least 250 apps, each with its
//! documentation, a registration page when it has an OAuth scheme, and every URL https on
//! the provider's documented domain (the docs' registrable domain or one the entry lists);
//! templates resolve, keys are unique across files and modes within an entry. Each rule is
//! also shown failing on a deliberately bad entry.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::super::domains::{app_urls, registrable_domain};
use super::super::parse::{Origin, parse_file};
use super::super::*;
use super::builtin;

/// Every lint problem of one app, found independently of the parser's first-error stop.
fn lint(app: &App) -> Vec<String> {
    let key = &app.key;
    let mut out = Vec::new();
    let Some(docs) = &app.docs else {
        return vec![format!("{key}: no docs")];
    };
    // Discovered endpoints (remote MCP servers) come with dynamic registration instead.
    let oauth = app.schemes.iter().any(|s| match &s.details {
        SchemeDetails::OAuth2(o) => o.authorization_url.is_some(),
        details => details.mode() == AuthScheme::OAuth1,
    });
    if oauth && app.register_url.is_none() {
        out.push(format!("{key}: OAuth without register_url"));
    }
    let vars: serde_json::Map<String, Value> = app
        .variables
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                json!(
                    v.default
                        .as_deref()
                        .or(v.example.as_deref())
                        .unwrap_or("tenant")
                ),
            )
        })
        .collect();
    let host = |url: &str| -> Result<String, String> {
        let rendered = render_template(url, &vars).map_err(|e| e.to_string())?;
        let url = url::Url::parse(&rendered).map_err(|e| e.to_string())?;
        if url.scheme() != "https" {
            return Err(format!("{rendered} is not https"));
        }
        url.host_str()
            .map(str::to_string)
            .ok_or_else(|| "no host".to_string())
    };
    let mut allowed: BTreeSet<String> = app.domains.iter().cloned().collect();
    match host(docs) {
        Ok(h) => allowed.insert(registrable_domain(&h).to_string()),
        Err(e) => return vec![format!("{key}.docs: {e}")],
    };
    for (field, url) in app_urls(app) {
        match host(&url) {
            Ok(h) if allowed.contains(registrable_domain(&h)) => {}
            Ok(h) => out.push(format!("{key}.{field}: {h} is off the provider's domain")),
            Err(e) => out.push(format!("{key}.{field}: {e}")),
        }
    }
    let modes: BTreeSet<AuthScheme> = app.schemes.iter().map(|s| s.mode).collect();
    if modes.len() != app.schemes.len() {
        out.push(format!("{key}: a mode is listed twice"));
    }
    out
}

#[test]
fn the_builtin_catalog_passes_the_lint() {
    let catalog = builtin();
    assert!(
        catalog.len() >= 250,
        "the catalog holds {} apps",
        catalog.len()
    );
    let problems: Vec<String> = catalog.apps().flat_map(lint).collect();
    assert!(problems.is_empty(), "lint:\n{}", problems.join("\n"));
}

#[test]
fn the_lint_fails_on_a_bad_entry() {
    let mut bad = builtin().get("github").unwrap().clone();
    bad.register_url = None;
    bad.base_url = Some("https://api.github.example/v3".to_string());
    bad.schemes.push(bad.schemes[0].clone());
    let found = lint(&bad).join("\n");
    for expected in [
        "without register_url",
        "base_url",
        "off the provider's domain",
        "listed twice",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
    bad.docs = Some("http://docs.github.com/en/rest".to_string());
    assert!(lint(&bad)[0].contains("not https"), "{:?}", lint(&bad));
    bad.docs = None;
    assert_eq!(lint(&bad), ["github: no docs"]);
}

/// A good built-in entry, then the same entry with one rule broken per case.
fn entry(changes: Value) -> String {
    let mut app = json!({
        "key": "acme", "name": "Acme", "description": "Acme's API.",
        "docs": "https://developer.acme.com/api", "register_url": "https://app.acme.com/oauth-apps",
        "base_url": "https://api.acme.com/{region}", "domains": ["acmeapis.com"],
        "whoami": {"method": "GET", "path": "/me"},
        "variables": [{"name": "region", "display_name": "Region", "description": "Your region", "default": "eu"}],
        "auth_schemes": [
            {"mode": "OAUTH2", "authorization_url": "https://auth.acme.com/authorize", "token_url": "https://oauth.acmeapis.com/token"},
            {"mode": "BEARER_TOKEN"}]
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            app.as_object_mut().unwrap().remove(k);
        } else {
            app[k] = v.clone();
        }
    }
    json!({"apps": [app]}).to_string()
}

/// The parser refuses a bad built-in entry, naming the field; a user file may do the same.
#[test]
fn builtin_entries_are_refused_off_the_rules() {
    parse_file("good.json", &entry(json!({})), Origin::Builtin).unwrap();
    let cases = [
        (json!({"docs": null}), "docs"),
        (json!({"register_url": null}), "register_url"),
        (
            json!({"base_url": "https://api.acme.evil/{region}"}),
            "base_url",
        ),
        (
            json!({"register_url": "http://app.acme.com/apps"}),
            "register_url",
        ),
        (json!({"domains": ["sub.acmeapis.com"]}), "domains[0]"),
        (
            json!({"domains": ["acmeapis.com", "unused.com"]}),
            "domains[1]",
        ),
        (
            json!({"base_url": "https://api.acme.com/{nope}"}),
            "base_url",
        ),
        (json!({"notes": " padded "}), "notes"),
        (
            json!({"auth_schemes": [{"mode": "BEARER_TOKEN"}, {"mode": "BEARER_TOKEN"}]}),
            "auth_schemes[1]",
        ),
    ];
    for (changes, field) in cases {
        let text = entry(changes.clone());
        let error = parse_file("bad.json", &text, Origin::Builtin).unwrap_err();
        let CatalogError::Invalid { field: named, .. } = &error else {
            panic!("{changes}: {error}");
        };
        assert!(named.starts_with(field), "{changes}: {error}");
    }
    let off_domain = entry(json!({"docs": null, "base_url": "https://ghe.example.org/{region}"}));
    parse_file("user.json", &off_domain, Origin::User).unwrap();
}

#[test]
fn a_key_in_two_builtin_files_is_refused() {
    let files = [
        ("providers/a.json".to_string(), entry(json!({}))),
        (
            "providers/b.json".to_string(),
            entry(json!({"name": "Acme again"})),
        ),
    ];
    let error = Catalog::from_builtin_files(&files).unwrap_err().to_string();
    assert!(
        error.contains("providers/b.json") && error.contains("providers/a.json"),
        "{error}"
    );
    let one = Catalog::from_builtin_files(&files[..1]).unwrap();
    assert_eq!(one.get("acme").unwrap().domains, ["acmeapis.com"]);
}

#[test]
fn setup_notes_say_how_to_configure_a_scheme() {
    let catalog = builtin();
    let github = catalog.get("github").unwrap();
    let notes = github.scheme(AuthScheme::OAuth2).unwrap().setup_notes();
    assert!(
        notes.iter().any(|n| n.starts_with("Default scopes")),
        "{notes:?}"
    );
    let slack = catalog.get("slack").unwrap();
    let notes = slack.scheme(AuthScheme::OAuth2).unwrap().setup_notes();
    assert!(notes.iter().any(|n| n.contains("commas")), "{notes:?}");
    assert!(
        github
            .register_url
            .as_deref()
            .unwrap()
            .starts_with("https://github.com/")
    );
}
