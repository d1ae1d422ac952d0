//! The built-in entries declare the quirk mechanisms where their providers need them (the
//! mechanisms themselves are tested against stand-ins in `tests/it/quirks.rs`).

use super::*;

fn oauth2<'a>(catalog: &'a Catalog, key: &str) -> (&'a SchemeSpec, &'a OAuth2Spec) {
    let scheme = catalog
        .get(key)
        .unwrap()
        .scheme(AuthScheme::OAuth2)
        .unwrap();
    match &scheme.details {
        SchemeDetails::OAuth2(o) => (scheme, o),
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn atlassian_oauth_goes_through_api_atlassian_com_with_the_looked_up_cloud_id() {
    let catalog = builtin();
    for (key, base) in [
        ("jira", "https://api.atlassian.com/ex/jira/{cloudid}"),
        (
            "confluence",
            "https://api.atlassian.com/ex/confluence/{cloudid}/wiki",
        ),
    ] {
        let (scheme, _) = oauth2(&catalog, key);
        assert_eq!(scheme.base_url(), Some(base));
        let lookup = &scheme.lookups[0];
        assert_eq!(
            lookup.url.as_str(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        let source = &lookup.vars["cloudid"];
        let answer = serde_json::json!([{"id": "abc-1", "url": "https://acme.atlassian.net"}]);
        assert_eq!(source.extract(&answer).as_deref(), Some("abc-1"));
        let basic = catalog.get(key).unwrap().scheme(AuthScheme::Basic).unwrap();
        assert!(
            basic
                .base_url()
                .unwrap()
                .contains("{subdomain}.atlassian.net")
        );
    }
}

#[test]
fn twitch_notion_dropbox_slack_salesforce_and_microsoft_declare_their_quirks() {
    let catalog = builtin();
    let twitch = catalog.get("twitch").unwrap();
    assert_eq!(twitch.headers["Client-Id"], "{client_id}");
    let (_, notion) = oauth2(&catalog, "notion");
    assert_eq!(notion.token_request, TokenRequest::Json);
    assert_eq!(notion.token_auth, TokenAuth::ClientSecretBasic);
    assert_eq!(
        catalog.get("dropbox").unwrap().extra_hosts,
        ["content.dropboxapi.com"]
    );
    let (_, slack) = oauth2(&catalog, "slack");
    let user = slack.user_scopes.as_ref().unwrap();
    assert_eq!(
        (user.param.as_str(), user.tokens_at.as_str()),
        ("user_scope", "authed_user")
    );
    let (scheme, salesforce) = oauth2(&catalog, "salesforce");
    let answer = serde_json::json!({"instance_url": "https://acme.my.salesforce.com"});
    let host = salesforce.token_response_vars["instance_host"].extract(&answer);
    assert_eq!(host.as_deref(), Some("acme.my.salesforce.com"));
    assert!(
        scheme
            .base_url()
            .unwrap()
            .starts_with("https://{instance_host}/")
    );
    for key in ["outlook", "onedrive", "microsoftteams"] {
        let (_, ms) = oauth2(&catalog, key);
        let auth = ms.authorization_url.as_ref().unwrap().as_str();
        assert!(auth.contains("/{tenant}/oauth2/v2.0/"), "{key}: {auth}");
        let tenant = catalog
            .get(key)
            .unwrap()
            .variables
            .iter()
            .find(|v| v.name == "tenant");
        assert_eq!(tenant.unwrap().default.as_deref(), Some("common"));
        assert!(ms.client_credentials_refuses["tenant"].contains(&"common".to_string()));
        assert_eq!(
            ms.client_credentials_scopes,
            ["https://graph.microsoft.com/.default"]
        );
    }
}

#[test]
fn malformed_quirk_fields_are_refused_naming_the_field() {
    let entry = |app: serde_json::Value, scheme: serde_json::Value| {
        let mut oauth = serde_json::json!({"mode": "OAUTH2",
            "authorization_url": "https://a.example/auth", "token_url": "https://a.example/token"});
        for (k, v) in scheme.as_object().unwrap() {
            oauth[k] = v.clone();
        }
        let mut app_entry = serde_json::json!({"key": "q", "name": "Q", "description": "q",
            "base_url": "https://api.example/v1", "auth_schemes": [oauth]});
        for (k, v) in app.as_object().unwrap() {
            app_entry[k] = v.clone();
        }
        let text = serde_json::json!({"apps": [app_entry]}).to_string();
        match Catalog::parse_user_file("q.json", &text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    };
    let none = serde_json::json!({});
    let cases = [
        (
            serde_json::json!({"headers": {"X-Id": "{tenant}"}}),
            none.clone(),
            "headers.X-Id",
        ),
        (
            serde_json::json!({"extra_hosts": ["evil.example/x"]}),
            none.clone(),
            "extra_hosts[0]",
        ),
        (
            serde_json::json!({"extra_hosts": ["http-host.example"]}),
            none.clone(),
            "",
        ),
        (
            none.clone(),
            serde_json::json!({"lookups": [{"url": "https://a.example/r", "vars": {}}]}),
            "lookups[0].vars",
        ),
        (
            none.clone(),
            serde_json::json!({"token_response_vars": {"access_token": "a"}}),
            "token_response_vars.access_token",
        ),
        (
            none.clone(),
            serde_json::json!({"token_response_vars": {"team": "team..id"}}),
            "token_response_vars.team",
        ),
        (
            none.clone(),
            serde_json::json!({"user_scopes": {"param": "scope", "tokens_at": "u"}}),
            "user_scopes",
        ),
        (
            none.clone(),
            serde_json::json!({"base_url": "ftp://a.example"}),
            "base_url",
        ),
        (
            none.clone(),
            serde_json::json!({"token_request": "xml"}),
            "token_request",
        ),
    ];
    for (app, scheme, field) in cases {
        let error = entry(app.clone(), scheme.clone());
        if field.is_empty() {
            assert!(error.is_empty(), "{app} {scheme}: {error}");
        } else {
            assert!(error.contains(field), "{app} {scheme}: {error}");
        }
    }
}
