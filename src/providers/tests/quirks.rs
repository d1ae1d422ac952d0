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
