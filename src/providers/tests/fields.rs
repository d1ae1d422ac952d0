//! The field lists the catalog yields: what an OAuth 2.0 integration configures, what each
//! scheme's connection supplies, and URLs rendered with connection values.

use serde_json::{Map, json};

use super::super::*;
use super::{builtin, integration_fields, names};

#[test]
fn oauth2_integration_fields() {
    let catalog = builtin();
    let fields = integration_fields(&catalog, "gmail", AuthScheme::OAuth2);
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
    let gmail = catalog.get("gmail").unwrap();
    assert!(
        gmail
            .scheme(AuthScheme::OAuth2)
            .unwrap()
            .connection_fields(gmail)
            .is_empty()
    );
}

#[test]
fn oauth2_scopes_default_with_the_apps_separator() {
    let slack = integration_fields(&builtin(), "slack", AuthScheme::OAuth2);
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
}

#[test]
fn oauth2_integration_input_validates_against_the_fields() {
    let fields = integration_fields(&builtin(), "gmail", AuthScheme::OAuth2);
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
    // An OAuth connection calls api.atlassian.com with the cloud id its lookup finds.
    assert!(names(&conn("jira", AuthScheme::OAuth2)).is_empty());
    assert!(names(&conn("salesforce", AuthScheme::OAuth2)).is_empty());
    assert_eq!(
        names(&conn("salesforce", AuthScheme::BearerToken)),
        ["instance_host", "token"]
    );
    assert_eq!(names(&conn("outlook", AuthScheme::OAuth2)), ["tenant"]);
    assert_eq!(names(&conn("outlook", AuthScheme::BearerToken)), ["token"]);
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
    let base = render_template(
        zendesk.base_url.as_deref().unwrap(),
        vars.as_object().unwrap(),
    )
    .unwrap();
    assert_eq!(base, "https://acme.zendesk.com/api/v2");
    assert_eq!(
        zendesk.whoami.as_ref().unwrap().url(&base),
        "https://acme.zendesk.com/api/v2/users/me"
    );
    let err = render_template(zendesk.base_url.as_deref().unwrap(), &Map::new()).unwrap_err();
    assert_eq!(err.field, "subdomain");
}
