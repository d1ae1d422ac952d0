//! Tests of the catalog as a whole: the embedded file entry by entry, the field lists it
//! yields, and loading user files next to it.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::parse::{Origin, parse_file, scheme_urls};
use super::*;

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

fn builtin() -> Catalog {
    Catalog::builtin().unwrap()
}

/// Every URL of an app, labelled: base, docs, whoami and each scheme's.
fn all_urls(app: &App) -> Vec<(String, String)> {
    let mut urls = vec![("base_url".to_string(), app.base_url.clone())];
    urls.extend(app.docs.iter().map(|d| ("docs".to_string(), d.clone())));
    if let Some(whoami) = &app.whoami {
        urls.push(("whoami".to_string(), whoami.url(&app.base_url)));
    }
    for scheme in &app.schemes {
        for (field, url) in scheme_urls(&scheme.details) {
            urls.push((format!("{}.{field}", scheme.mode), url.to_string()));
        }
    }
    urls
}

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
        for (label, url) in all_urls(app) {
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
        for name in declared.difference(&used) {
            out.push(format!("{key}: variable {name} declared but unused"));
        }
        let modes: BTreeSet<AuthScheme> = app.schemes.iter().map(|s| s.mode).collect();
        if modes.len() != app.schemes.len() || app.schemes.is_empty() {
            out.push(format!("{key}: scheme modes not unique or none"));
        }
        for scheme in &app.schemes {
            if scheme.mode != scheme.details.mode() {
                out.push(format!("{key}: mode/details mismatch"));
            }
            let protocol_urls: Vec<&UrlTemplate> = match &scheme.details {
                SchemeDetails::OAuth2(s) => vec![&s.authorization_url, &s.token_url],
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
    }
    for required in REQUIRED_APPS {
        if catalog.get(required).is_none() {
            out.push(format!("required app {required} missing"));
        }
    }
    out
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
    broken.base_url = "http://{subdomain}.zendesk.com/api/v2".to_string();
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

fn names(fields: &[FieldSpec]) -> Vec<&str> {
    fields.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn oauth2_integration_fields() {
    let catalog = builtin();
    let gmail = catalog.get("gmail").unwrap();
    let fields = gmail
        .scheme(AuthScheme::OAuth2)
        .unwrap()
        .integration_fields();
    assert_eq!(
        names(&fields),
        [
            "client_id",
            "client_secret",
            "scopes",
            "authorization_url",
            "token_url",
            "revocation_url",
            "authorization_params",
            "token_params",
            "pkce",
            "token_auth",
            "issuer",
            "grant_type",
            "base_url",
            "allowed_redirect_urls"
        ]
    );
    let by = |n: &str| fields.iter().find(|f| f.name == n).unwrap();
    assert!(by("client_id").required && !by("client_id").is_secret);
    assert!(by("client_secret").required && by("client_secret").is_secret);
    assert_eq!(
        by("scopes").default,
        Some(json!(
            "https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/userinfo.email"
        ))
    );
    assert_eq!(
        by("authorization_params").default.as_ref().unwrap()["access_type"],
        json!("offline")
    );
    assert_eq!(
        by("base_url").default,
        Some(json!("https://gmail.googleapis.com/gmail/v1"))
    );
    assert_eq!(by("pkce").kind, FieldKind::Boolean);
    assert!(fields.iter().all(|f| !f.expected_from_customer));
    assert!(
        gmail
            .scheme(AuthScheme::OAuth2)
            .unwrap()
            .connection_fields(gmail)
            .is_empty()
    );

    let slack = catalog
        .get("slack")
        .unwrap()
        .scheme(AuthScheme::OAuth2)
        .unwrap()
        .integration_fields();
    let scopes = slack.iter().find(|f| f.name == "scopes").unwrap();
    assert!(
        scopes
            .default
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .contains(',')
    );

    let input =
        json!({"client_id": "id", "client_secret": "s3cr3t", "token_auth": "client_secret_basic"});
    let ok = validate(&fields, input.as_object().unwrap()).unwrap();
    assert_eq!(ok.secret.keys().collect::<Vec<_>>(), ["client_secret"]);
    assert_eq!(ok.plain["pkce"], json!(true));
    let bad = json!({"client_id": "id", "client_secret": "s", "token_auth": "jwt"});
    assert_eq!(
        validate(&fields, bad.as_object().unwrap())
            .unwrap_err()
            .field,
        "token_auth"
    );
}

#[test]
fn connection_fields_per_scheme() {
    let catalog = builtin();
    let conn = |app: &str, mode: AuthScheme| {
        let app = catalog.get(app).unwrap();
        app.scheme(mode).unwrap().connection_fields(app)
    };
    let stripe = conn("stripe", AuthScheme::ApiKey);
    assert_eq!(names(&stripe), ["api_key"]);
    assert!(stripe[0].is_secret && stripe[0].required && stripe[0].expected_from_customer);
    assert_eq!(names(&conn("gmail", AuthScheme::BearerToken)), ["token"]);
    assert_eq!(
        names(&conn("jira", AuthScheme::Basic)),
        ["subdomain", "username", "password"]
    );
    assert_eq!(names(&conn("jira", AuthScheme::OAuth2)), ["subdomain"]);
    assert_eq!(
        names(&conn("trello", AuthScheme::ApiKey)),
        ["api_key", "token"]
    );
    assert_eq!(
        names(&conn("dockerhub", AuthScheme::BasicWithJwt)),
        ["username", "password"]
    );
    let gsa = conn("googledrive", AuthScheme::GoogleServiceAccount);
    assert_eq!(names(&gsa), ["credentials_json", "subject"]);
    assert!(gsa[0].is_secret && gsa[0].kind == FieldKind::Object && !gsa[1].required);
    let zendesk = conn("zendesk", AuthScheme::Basic);
    assert!(zendesk[0].required && !zendesk[0].is_secret && zendesk[0].name == "subdomain");
    let datadog = conn("datadog", AuthScheme::ApiKey);
    assert_eq!(datadog[0].default, Some(json!("datadoghq.com")));
    let freshdesk = conn("freshdesk", AuthScheme::Basic);
    let supplied = json!({"subdomain": "acme", "username": "key123"});
    let v = validate(&freshdesk, supplied.as_object().unwrap()).unwrap();
    assert_eq!(v.secret["password"], json!("X"));
    assert_eq!(v.plain["subdomain"], json!("acme"));
}

#[test]
fn urls_render_with_connection_values() {
    let catalog = builtin();
    let zendesk = catalog.get("zendesk").unwrap();
    let vars = json!({"subdomain": "acme"});
    let base = render_template(&zendesk.base_url, vars.as_object().unwrap()).unwrap();
    assert_eq!(base, "https://acme.zendesk.com/api/v2");
    assert_eq!(
        zendesk.whoami.as_ref().unwrap().url(&base),
        "https://acme.zendesk.com/api/v2/users/me"
    );
    let err = render_template(&zendesk.base_url, &Map::new()).unwrap_err();
    assert_eq!(err.field, "subdomain");
}

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
    let local = catalog.get("LOCALTHING").unwrap();
    let fields = local
        .scheme(AuthScheme::OAuth2)
        .unwrap()
        .integration_fields();
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

#[test]
fn entries_are_checked_field_by_field() {
    let user = Origin::User;
    let cases = [
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
            json!({"auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://x.example/a", "token_url": "https://x.example/t",
            "authorization_params": {"redirect_uri": "https://evil.example"}}]}),
            "authorization_params.redirect_uri",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://x.example/a", "token_url": "https://x.example/t",
            "scope_separator": ";"}]}),
            "scope_separator",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH2", "authorization_url": "https://x.example/a", "token_url": "https://x.example/t",
            "pkce": "yes"}]}),
            "auth_schemes[0] (OAUTH2).pkce: invalid type",
        ),
        (
            json!({"auth_schemes": [{"mode": "OAUTH2", "authorization_url": 7, "token_url": "https://x.example/t"}]}),
            "auth_schemes[0] (OAUTH2).authorization_url: invalid type",
        ),
        (
            json!({"categories": "crm"}),
            "app \"x\": categories: invalid type",
        ),
        (json!({"name": 5}), "app \"x\": name: invalid type"),
        (
            json!({"auth_schemes": [{"mode": "BEARER_TOKEN", "token": "x"}]}),
            "auth_schemes[0] (BEARER_TOKEN)",
        ),
        (
            json!({"auth_schemes": [{"mode": "API_KEY", "in": "header", "name": "X", "extra": [{"field": "api_key",
            "display_name": "K", "description": "K.", "in": "header", "name": "Y"}]}]}),
            "two fields are named \"api_key\"",
        ),
        (json!({"colour": "red"}), "unknown field `colour`"),
    ];
    for (patch, expected) in cases {
        let message = reject(patch.clone(), user);
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
