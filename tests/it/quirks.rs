//! The catalog's provider-quirk mechanisms, each against a local stand-in that behaves as
//! the provider documents, declared in a user catalog file as the built-in entry declares
//! it (the stand-ins get a port only when they start, so the files are written after):
//! Atlassian's accessible-resources filling `cloudid` for the OAuth base URL, Twitch's
//! `Client-Id` header, Notion's JSON token request with HTTP Basic, Salesforce's
//! `instance_url`, Slack's `authed_user` tokens, and Dropbox's second host.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::idp::{authorize_url, query_param};
use crate::common::stand_in::{Recorded, Reply, Upstream, json_reply};
use crate::common::{Launch, Server, agent};

/// keyport with one user catalog file holding `apps`.
fn server_with(apps: Value) -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(dir.join("providers")).expect("providers dir");
    std::fs::write(
        dir.join("providers/quirks.json"),
        json!({ "apps": apps }).to_string(),
    )
    .expect("user catalog");
    let mut server = Launch::default().start_in(&dir).expect("keyport starts");
    server.keep(tmp);
    server
}

/// An OAuth 2.0 app whose authorization server is `idp` (`/auth`, `/token`), with `scheme`
/// merged into its OAUTH2 scheme and `app` into the entry.
fn oauth_app(key: &str, idp: &str, api: &str, scheme: Value, app: Value) -> Value {
    let mut oauth2 = json!({"mode": "OAUTH2",
        "authorization_url": format!("{idp}/auth"), "token_url": format!("{idp}/token"),
        "default_scopes": ["read"], "pkce": false, "token_auth": "client_secret_post"});
    for (k, v) in scheme.as_object().expect("an object") {
        oauth2[k] = v.clone();
    }
    let mut entry = json!({"key": key, "name": key, "description": "a stand-in provider",
        "base_url": api, "auth_schemes": [oauth2]});
    for (k, v) in app.as_object().expect("an object") {
        entry[k] = v.clone();
    }
    entry
}

/// An OAUTH2 integration of `app` as client `c` (secret `s`) plus `extra`; its id.
fn integration(server: &Server, app: &str, extra: Value) -> String {
    let mut config = json!({"client_id": "c", "client_secret": "s"});
    for (k, v) in extra.as_object().expect("an object") {
        config[k] = v.clone();
    }
    let created =
        server.integration(json!({"appName": app, "authScheme": "OAUTH2", "authConfig": config}));
    created["id"].as_str().expect("id").to_string()
}

/// A connection through the browser flow without a browser: the authorization URL the
/// connect page links to, the callback's status and the connection id.
fn connect(server: &Server, app: &str, integration: &str) -> (String, u16, String) {
    let created = server
        .create_connection(json!({"integrationId": integration, "userUuid": "ann", "data": {}}));
    let id = created["connectedAccountId"]
        .as_str()
        .expect("id")
        .to_string();
    let link = created["redirectUrl"].as_str().expect("a connect link");
    let authorize = authorize_url(link).expect("the connect page links the provider");
    let state = query_param(&authorize, "state").expect("state");
    let answer = agent()
        .get(format!("{}/callback/{app}", server.url))
        .query("code", "the-code")
        .query("state", &state)
        .call()
        .expect("callback");
    (authorize, answer.status().as_u16(), id)
}

fn proxy_get(server: &Server, id: &str, endpoint: &str) -> (u16, Value) {
    server.proxy(json!({"connectedAccountId": id, "endpoint": endpoint, "method": "GET"}))
}

fn bearer(req: &Recorded, token: &str) -> bool {
    req.header("authorization") == Some(format!("Bearer {token}").as_str())
}

/// Issues `at-1` for any code, as an RFC 6749 token endpoint does.
fn plain_tokens() -> Upstream {
    Upstream::start(|req| match req.target.as_str() {
        "/token" => json_reply(200, json!({"access_token": "at-1", "token_type": "Bearer"})),
        _ => json_reply(404, json!({})),
    })
}

#[test]
fn atlassian_accessible_resources_fill_the_cloud_id_of_the_oauth_base_url() {
    // https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/: the sites a
    // token may reach, then https://api.atlassian.com/ex/jira/{cloudid}/rest/api/3/…
    let atlassian = Upstream::start(|req| match req.target.as_str() {
        "/token" => json_reply(
            200,
            json!({"access_token": "at-atl", "refresh_token": "rt", "expires_in": 3600}),
        ),
        "/oauth/token/accessible-resources" if bearer(req, "at-atl") => json_reply(
            200,
            json!([{"id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "name": "acme",
                    "url": "https://acme.atlassian.net", "scopes": ["read:jira-work"]}]),
        ),
        t if t.starts_with("/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/") => {
            json_reply(200, json!({"key": "KP-1"}))
        }
        _ => json_reply(401, json!({"message": "Unauthorized"})),
    });
    let a = &atlassian.base;
    let oauth = oauth_app(
        "jira",
        a,
        a,
        json!({"base_url": format!("{a}/ex/jira/{{cloudid}}"),
               "lookups": [{"url": format!("{a}/oauth/token/accessible-resources"),
                            "vars": {"cloudid": "[0].id"}}]}),
        json!({}),
    )["auth_schemes"][0]
        .clone();
    // The BASIC scheme keeps the site URL; the OAuth one has its own base URL.
    let server = server_with(json!([{"key": "jira", "name": "Jira",
        "description": "a stand-in provider", "base_url": format!("{a}/site/{{subdomain}}"),
        "whoami": {"method": "GET", "path": "/rest/api/3/myself"},
        "variables": [
            {"name": "subdomain", "display_name": "Site", "description": "the site"},
            {"name": "cloudid", "display_name": "Cloud id", "description": "from the lookup"}],
        "auth_schemes": [oauth, {"mode": "BASIC"}]}]));
    // An OAuth connection is asked for no site: the lookup says where its API is.
    let integration = integration(&server, "jira", json!({}));
    let (_, status, id) = connect(&server, "jira", &integration);
    assert_eq!(status, 200);
    let connection = server.connection(&id);
    assert_eq!(connection["status"], "ACTIVE", "{connection}");
    let (status, answer) = proxy_get(&server, &id, "/rest/api/3/issue/KP-1");
    assert_eq!(status, 200, "{answer}");
    let calls = atlassian.requests();
    let api = calls.last().expect("the proxied call");
    assert_eq!(
        api.target,
        "/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/issue/KP-1"
    );
    assert!(bearer(api, "at-atl"));
    let lookups = calls
        .iter()
        .filter(|r| r.target == "/oauth/token/accessible-resources")
        .count();
    assert_eq!(lookups, 1, "one lookup, once connected");
    let whoami = "/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/myself";
    assert!(
        calls.iter().any(|r| r.target == whoami),
        "who-am-I after the lookup"
    );
    a_basic_connection_still_calls_the_site(&server, a);
}

/// A BASIC connection still calls the site, and must name it; an OAuth one names neither the
/// site nor the cloud id.
fn a_basic_connection_still_calls_the_site(server: &Server, a: &str) {
    let app = server.ok("GET", "/api/v1/apps/jira", None);
    let scheme = |mode: &str| -> Value {
        app["auth_schemes"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["auth_mode"] == mode))
            .cloned()
            .unwrap_or_default()
    };
    // Each scheme's who-am-I URL, as Composio's get_current_user_endpoint.
    for (mode, whoami) in [
        (
            "OAUTH2",
            format!("{a}/ex/jira/{{cloudid}}/rest/api/3/myself"),
        ),
        ("BASIC", format!("{a}/site/{{subdomain}}/rest/api/3/myself")),
    ] {
        assert_eq!(
            scheme(mode)["fields"][0]["get_current_user_endpoint"],
            json!(whoami)
        );
    }
    let fields = |mode: &str| -> Vec<String> {
        let scheme = scheme(mode);
        scheme["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|f| f["expected_from_customer"] == true)
                    .map(|f| f["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        !fields("OAUTH2")
            .iter()
            .any(|f| f == "subdomain" || f == "cloudid")
    );
    assert!(fields("BASIC").contains(&"subdomain".to_string()));
}

#[test]
fn twitch_requests_carry_the_client_id_header() {
    // https://dev.twitch.tv/docs/api/get-started/: Helix refuses a call without Client-Id.
    let tokens = plain_tokens();
    let helix = Upstream::start(|req| match req.header("client-id") {
        Some("twitch-client-7") if bearer(req, "at-1") => json_reply(
            200,
            json!({"data": [{"id": "141981764", "login": "twitchdev"}]}),
        ),
        _ => json_reply(
            401,
            json!({"error": "Unauthorized", "message": "Client ID is missing"}),
        ),
    });
    let server = server_with(json!([oauth_app(
        "twitch",
        &tokens.base,
        &format!("{}/helix", helix.base),
        json!({}),
        json!({"headers": {"Client-Id": "{client_id}"}}),
    )]));
    let integration = integration(&server, "twitch", json!({"client_id": "twitch-client-7"}));
    let (_, status, id) = connect(&server, "twitch", &integration);
    assert_eq!(status, 200);
    let (status, answer) = proxy_get(&server, &id, "/users");
    assert_eq!(status, 200, "{answer}");
    let call = helix.requests().into_iter().last().expect("a call");
    assert_eq!(call.target, "/helix/users");
    assert_eq!(call.header("client-id"), Some("twitch-client-7"));
}

/// Notion's token endpoint (https://developers.notion.com/docs/authorization): a JSON body
/// with HTTP Basic client authentication; a form is refused.
fn notion_token_endpoint() -> Upstream {
    Upstream::start(|req| {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("c:s")
        );
        let json = req.has("content-type", "application/json");
        let body = req.json();
        if req.target != "/token" || !json || req.header("authorization") != Some(&basic) {
            return json_reply(400, json!({"error": "invalid_request"}));
        }
        if body["grant_type"] != "authorization_code" || body["code"] != "the-code" {
            return json_reply(400, json!({"error": "invalid_grant"}));
        }
        json_reply(
            200,
            json!({"access_token": "secret_notion", "token_type": "bearer",
                   "bot_id": "b1", "workspace_id": "w1", "owner": {"type": "user"}}),
        )
    })
}

#[test]
fn notion_token_requests_are_json_with_basic_client_auth() {
    let notion = notion_token_endpoint();
    let api = Upstream::ok();
    let scheme = json!({"token_auth": "client_secret_basic", "token_request": "json"});
    let form = json!({"token_auth": "client_secret_basic"});
    let server = server_with(json!([
        oauth_app("notion", &notion.base, &api.base, scheme, json!({})),
        oauth_app("notion_form", &notion.base, &api.base, form, json!({})),
    ]));
    let json_id = integration(&server, "notion", json!({}));
    let (_, status, id) = connect(&server, "notion", &json_id);
    assert_eq!(status, 200);
    assert_eq!(server.connection(&id)["status"], "ACTIVE");
    let (status, _) = proxy_get(&server, &id, "/v1/users/me");
    assert_eq!(status, 200);
    assert!(bearer(&api.only(), "secret_notion"));
    // The same endpoint refuses the form RFC 6749 prescribes: the quirk is needed.
    let form_id = integration(&server, "notion_form", json!({}));
    let (_, status, id) = connect(&server, "notion_form", &form_id);
    assert_eq!(status, 400);
    assert_eq!(server.connection(&id)["status"], "FAILED");
}

#[test]
fn salesforce_instance_url_decides_where_api_calls_go() {
    // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm:
    // the token response names the org's instance_url. On loopback every host is
    // 127.0.0.1, so the stand-in's base URL carries the host in its path.
    let api = Upstream::ok();
    let tokens = Upstream::start(|_| {
        json_reply(
            200,
            json!({"access_token": "00Dx!at", "instance_url": "https://acme.my.salesforce.com",
                   "id": "https://login.salesforce.com/id/00Dx/005x", "token_type": "Bearer",
                   "issued_at": "1278448832702", "signature": "abc"}),
        )
    });
    let server = server_with(json!([oauth_app(
        "salesforce",
        &tokens.base,
        &format!("{}/{{instance_host}}/services/data/v62.0", api.base),
        json!({"token_response_vars": {"instance_host": {"path": "instance_url", "part": "host"}}}),
        json!({"variables": [{"name": "instance_host", "display_name": "Host",
                              "description": "the org's API host"}]}),
    )]));
    let integration = integration(&server, "salesforce", json!({}));
    let (_, status, id) = connect(&server, "salesforce", &integration);
    assert_eq!(status, 200);
    let connection = server.connection(&id);
    assert_eq!(connection["status"], "ACTIVE", "{connection}");
    let (status, answer) = proxy_get(&server, &id, "/sobjects/Account");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        api.only().target,
        "/acme.my.salesforce.com/services/data/v62.0/sobjects/Account"
    );
}

#[test]
fn slack_user_scopes_give_the_connection_the_authed_user_token() {
    // https://api.slack.com/authentication/oauth-v2: user_scope asks for a user token,
    // which oauth.v2.access returns under authed_user beside the bot token.
    let api = Upstream::ok();
    let tokens = Upstream::start(|_| {
        json_reply(
            200,
            json!({"ok": true, "access_token": "xoxb-bot", "token_type": "bot",
                   "scope": "chat:write", "team": {"id": "T9TK3CUKW", "name": "Acme"},
                   "authed_user": {"id": "U1234", "scope": "search:read",
                                   "access_token": "xoxp-user", "token_type": "user"}}),
        )
    });
    let server = server_with(json!([oauth_app(
        "slack",
        &tokens.base,
        &api.base,
        json!({"scope_separator": ",",
               "user_scopes": {"param": "user_scope", "tokens_at": "authed_user"},
               "token_response_vars": {"team_id": "team.id"}}),
        json!({}),
    )]));
    let integration = integration(&server, "slack", json!({"user_scopes": "search:read"}));
    let (authorize, status, id) = connect(&server, "slack", &integration);
    assert_eq!(status, 200);
    assert_eq!(
        query_param(&authorize, "user_scope").as_deref(),
        Some("search:read")
    );
    let (status, _) = proxy_get(&server, &id, "/search.messages?query=hi");
    assert_eq!(status, 200);
    assert!(bearer(&api.only(), "xoxp-user"), "{:?}", api.only());
    let connection = server.connection(&id);
    let params = connection["connectionParams"].to_string();
    assert!(params.contains("T9TK3CUKW"), "{connection}");
}

#[test]
fn dropbox_content_host_is_reached_and_no_other() {
    // https://www.dropbox.com/developers/documentation/http/documentation: RPC endpoints
    // on api.dropboxapi.com, content endpoints on content.dropboxapi.com.
    let api = Upstream::ok();
    let content = Upstream::start(|_| Reply::Send {
        status: 200,
        headers: vec![("Content-Type".into(), "application/octet-stream".into())],
        body: b"file bytes".to_vec(),
    });
    let third = Upstream::ok();
    let server = server_with(json!([{"key": "dropbox", "name": "Dropbox",
        "description": "a stand-in provider", "base_url": format!("{}/2", api.base),
        "extra_hosts": [format!("127.0.0.1:{}", content.port)],
        "whoami": {"method": "POST", "path": "/users/get_current_account"},
        "auth_schemes": [{"mode": "BEARER_TOKEN"}]}]));
    let id = server.bearer("dropbox", &format!("{}/2", api.base), "ann", "sl.dropbox");
    let download = format!("{}/2/files/download", content.base);
    let (status, answer) = proxy_get(&server, &id, &download);
    assert_eq!(status, 200, "{answer}");
    let got = content.only();
    assert_eq!(got.target, "/2/files/download");
    assert!(bearer(&got, "sl.dropbox"));
    for elsewhere in [
        format!("{}/2/files/download", third.base),
        format!("{}/3/files/download", content.base),
    ] {
        let (status, answer) = proxy_get(&server, &id, &elsewhere);
        assert_eq!(status, 400, "{elsewhere}: {answer}");
    }
    assert_eq!(third.count(), 0, "the third host got nothing");
    assert_eq!(content.count(), 1);
}
