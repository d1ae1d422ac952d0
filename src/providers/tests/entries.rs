//! The embedded catalog, entry by entry: every rule an entry must keep, proved able to
//! fail, and the lookups, ids and schemes the rest of keyport relies on.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::super::domains::app_urls;
use super::super::*;
use super::builtin;

/// The apps keyport promises to know, under Composio's keys.
const REQUIRED_APPS: [&str; 60] = [
    "github",
    "gitlab",
    "bitbucket",
    "gmail",
    "googlecalendar",
    "googledrive",
    "googlesheets",
    "googledocs",
    "youtube",
    "slack",
    "discord",
    "notion",
    "linear",
    "jira",
    "confluence",
    "asana",
    "trello",
    "clickup",
    "monday",
    "todoist",
    "airtable",
    "figma",
    "dropbox",
    "box",
    "hubspot",
    "salesforce",
    "pipedrive",
    "zendesk",
    "intercom",
    "freshdesk",
    "shopify",
    "stripe",
    "twilio",
    "sendgrid",
    "mailchimp",
    "calendly",
    "zoom",
    "outlook",
    "microsoftteams",
    "onedrive",
    "spotify",
    "twitter",
    "reddit",
    "twitch",
    "strava",
    "fitbit",
    "openai",
    "anthropic",
    "perplexity",
    "cloudflare",
    "vercel",
    "netlify",
    "sentry",
    "datadog",
    "pagerduty",
    "digitalocean",
    "supabase",
    "typeform",
    "wordpress",
    "dockerhub",
];

/// The `{names}` a string uses, found independently of the template parser.
fn braces(text: &str) -> Vec<String> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// Every problem the validation rules find in a catalog; empty means valid.
fn problems(catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for app in catalog.apps() {
        app_problems(app, &mut out);
        for scheme in &app.schemes {
            scheme_problems(app, scheme, &mut out);
        }
    }
    for required in REQUIRED_APPS {
        if catalog.get(required).is_none() {
            out.push(format!("required app {required} missing"));
        }
    }
    out
}

/// The app's key, URLs, variables and the uniqueness of its modes.
fn app_problems(app: &App, out: &mut Vec<String>) {
    let key = &app.key;
    let well_formed = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        out.push(format!("{key}: malformed key"));
    }
    let declared: BTreeSet<String> = app.variables.iter().map(|v| v.name.clone()).collect();
    let dummies: Map<String, Value> = declared
        .iter()
        .map(|name| (name.clone(), json!("example")))
        .collect();
    let mut used = BTreeSet::new();
    for (label, url) in app_urls(app) {
        for name in braces(&url) {
            if !declared.contains(&name) {
                out.push(format!("{key}.{label}: undeclared {{{name}}}"));
            }
            used.insert(name);
        }
        let parsed = render_template(&url, &dummies)
            .map_err(|e| e.to_string())
            .and_then(|s| url::Url::parse(&s).map_err(|e| e.to_string()));
        match parsed {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()) => {}
            Ok(u) => out.push(format!("{key}.{label}: not https with a host: {u}")),
            Err(e) => out.push(format!("{key}.{label}: {e}")),
        }
    }
    // Header values may name variables too, and the integration's client id.
    for (header, value) in &app.headers {
        for name in braces(value) {
            if name != "client_id" && !declared.contains(&name) {
                out.push(format!("{key}.headers.{header}: undeclared {{{name}}}"));
            }
            used.insert(name);
        }
    }
    for name in declared.difference(&used) {
        out.push(format!("{key}: variable {name} declared but unused"));
    }
    let modes: BTreeSet<AuthScheme> = app.schemes.iter().map(|s| s.mode).collect();
    if modes.len() != app.schemes.len() || app.schemes.is_empty() {
        out.push(format!("{key}: scheme modes not unique or none"));
    }
}

/// One scheme's mode, protocol URLs and field lists (names unique, sides not mixed up,
/// defaults that validate).
fn scheme_problems(app: &App, scheme: &SchemeSpec, out: &mut Vec<String>) {
    let key = &app.key;
    if scheme.mode != scheme.details.mode() {
        out.push(format!("{key}: mode/details mismatch"));
    }
    let protocol_urls: Vec<&UrlTemplate> = match &scheme.details {
        SchemeDetails::OAuth2(s) => [&s.authorization_url, &s.token_url]
            .into_iter()
            .flatten()
            .collect(),
        SchemeDetails::OAuth1(s) => {
            vec![
                &s.request_token_url,
                &s.authorization_url,
                &s.access_token_url,
            ]
        }
        _ => Vec::new(),
    };
    if protocol_urls.iter().any(|u| u.as_str().is_empty()) {
        out.push(format!("{key}.{}: a protocol URL is empty", scheme.mode));
    }
    let integration = scheme.integration_fields();
    let connection = scheme.connection_fields(app);
    let names: Vec<&str> = integration
        .iter()
        .chain(&connection)
        .map(|f| f.name.as_str())
        .collect();
    if names.iter().collect::<BTreeSet<_>>().len() != names.len() {
        out.push(format!(
            "{key}.{}: duplicate field names {names:?}",
            scheme.mode
        ));
    }
    if integration.iter().any(|f| f.expected_from_customer)
        || connection.iter().any(|f| !f.expected_from_customer)
    {
        out.push(format!(
            "{key}.{}: expected_from_customer mixed up",
            scheme.mode
        ));
    }
    // The defaults must pass the validator they will be fed to.
    for fields in [&integration, &connection] {
        let filled: Map<String, Value> = fields
            .iter()
            .filter(|f| f.required && f.default.is_none())
            .map(|f| (f.name.clone(), dummy_value(f.kind)))
            .collect();
        if let Err(e) = validate(fields, &filled) {
            out.push(format!(
                "{key}.{}: defaults don't validate: {e}",
                scheme.mode
            ));
        }
    }
}

fn dummy_value(kind: FieldKind) -> Value {
    match kind {
        FieldKind::String => json!("example"),
        FieldKind::Boolean => json!(true),
        FieldKind::Integer => json!(1),
        FieldKind::Object => json!({}),
        FieldKind::Array => json!([]),
    }
}

#[test]
fn the_embedded_catalog_is_valid_entry_by_entry() {
    let catalog = builtin();
    assert!(catalog.len() >= 64, "only {} apps", catalog.len());
    let found = problems(&catalog);
    assert!(found.is_empty(), "catalog problems:\n{}", found.join("\n"));
}

#[test]
fn the_validation_rules_can_fail() {
    // Built without the parser's checks, so the test's own rules must catch each problem.
    let mut catalog = builtin();
    let mut broken = catalog.get("zendesk").unwrap().clone();
    broken.key = "Zen Desk".to_string();
    broken.base_url = Some("http://{subdomain}.zendesk.com/api/v2".to_string());
    broken.docs = Some("https://developer.zendesk.com/{region}".to_string());
    broken.schemes.push(broken.schemes[0].clone());
    catalog.apps.insert(broken.key.clone(), broken);
    catalog.apps.remove("github");
    let found = problems(&catalog).join("\n");
    for expected in [
        "malformed key",
        "undeclared {region}",
        "not https",
        "not unique",
        "github missing",
    ] {
        assert!(
            found.contains(expected),
            "{expected} not reported in:\n{found}"
        );
    }
}

#[test]
fn scheme_wire_names_match_the_domain_enum() {
    for scheme in AuthScheme::ALL {
        let value = json!({"mode": scheme.as_str(), "authorization_url": "https://a.example", "token_url": "https://a.example",
            "request_token_url": "https://a.example", "access_token_url": "https://a.example", "in": "header", "name": "X"});
        let mut object = value.as_object().unwrap().clone();
        let keep: &[&str] = match scheme {
            AuthScheme::OAuth2 => &["authorization_url", "token_url"],
            AuthScheme::OAuth1 => &["request_token_url", "authorization_url", "access_token_url"],
            AuthScheme::ApiKey => &["in", "name"],
            AuthScheme::BasicWithJwt => &["token_url"],
            _ => &[],
        };
        object.retain(|k, _| k == "mode" || keep.contains(&k.as_str()));
        let details: SchemeDetails = serde_json::from_value(Value::Object(object)).unwrap();
        assert_eq!(details.mode(), scheme);
    }
}

#[test]
fn lookups_are_case_insensitive_and_sorted() {
    let catalog = builtin();
    assert_eq!(catalog.get("GITHUB").unwrap().key, "github");
    assert_eq!(catalog.get("GoogleCalendar").unwrap().key, "googlecalendar");
    assert!(catalog.get("nope").is_none());
    let keys: Vec<&str> = catalog.apps().map(|a| a.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), catalog.len());
}

#[test]
fn app_ids_are_stable_and_distinct() {
    let catalog = builtin();
    let github = catalog.get("github").unwrap();
    assert_eq!(github.app_id(), github.app_id());
    assert_eq!(github.app_id().get_version_num(), 5);
    // Frozen: clients store app ids, so this value must never change.
    assert_eq!(github.app_id().to_string(), GITHUB_APP_ID);
    let ids: BTreeSet<_> = catalog.apps().map(App::app_id).collect();
    assert_eq!(ids.len(), catalog.len());
}

const GITHUB_APP_ID: &str = "a1e6ccd9-fad8-540f-84a6-7ed52189e3f3";

#[test]
fn schemes_and_defaults() {
    let catalog = builtin();
    let github = catalog.get("github").unwrap();
    assert_eq!(github.default_scheme(), AuthScheme::OAuth2);
    assert!(github.scheme(AuthScheme::BearerToken).is_some());
    assert!(github.scheme(AuthScheme::Basic).is_none());
    let twitter = catalog.get("twitter").unwrap();
    assert!(
        twitter.scheme(AuthScheme::OAuth1).is_some()
            && twitter.scheme(AuthScheme::OAuth2).is_some()
    );
    assert_eq!(
        catalog.get("trello").unwrap().default_scheme(),
        AuthScheme::OAuth1
    );
    assert_eq!(
        catalog.get("stripe").unwrap().default_scheme(),
        AuthScheme::ApiKey
    );
    let gmail = catalog.get("gmail").unwrap();
    for mode in [
        AuthScheme::OAuth2,
        AuthScheme::GoogleServiceAccount,
        AuthScheme::BearerToken,
    ] {
        assert!(gmail.scheme(mode).is_some(), "gmail {mode}");
    }
    let modes: BTreeSet<AuthScheme> = catalog
        .apps()
        .flat_map(|a| a.schemes.iter().map(|s| s.mode))
        .collect();
    assert_eq!(
        modes.len(),
        AuthScheme::ALL.len(),
        "every mode is used by some app: {modes:?}"
    );
}
