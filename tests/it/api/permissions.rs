//! The permission lattice and key restrictions, route by route. Every route comes from the
//! router's own table (`keyport::http::routes()`) and must have a row in [`TABLE`] saying
//! what it needs, as the README documents it, so a new route cannot escape: each is called
//! with keys of every permission and restriction, and each answer is the documented one.
//! Refused requests reach no provider (counted at the stand-in), and a `use` key changes
//! nothing.

use serde_json::{Value, json};

use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Server, agent, call};

/// `call`, but for an event stream (which never ends) only the status and, for a refusal,
/// the error body.
fn call_once(
    server: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    if path != "/api/v1/events" {
        return call(&server.url, method, path, Some(key), body);
    }
    let mut response = agent()
        .get(format!("{}{path}", server.url))
        .header("x-api-key", key)
        .call()
        .unwrap();
    let status = response.status().as_u16();
    let answer = match status {
        200 => Value::Null,
        _ => response.body_mut().read_json().unwrap_or_default(),
    };
    (status, answer)
}

/// What a route needs of a key.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    Use,
    Manage,
    Reveal,
    Admin,
    /// The MCP endpoint: a `use` key restricted to one entity, nothing else.
    Tools,
}

/// What a route does through the fixture's GitHub connection, for the restrictions.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Acts {
    No,
    /// A raw proxied POST.
    Proxy,
    /// GITHUB_CREATE_AN_ISSUE, a write action (POST).
    Write,
    /// A connect link for a GitHub integration.
    Connect,
}

use Acts::{Connect, No, Proxy, Write};
use Needs::{Admin, Manage, Reveal, Tools, Use};

/// Every `/api/` route and `/mcp` (v3 rows stand for `/api/v3/` too): its method, path,
/// what it needs of a key ([`Needs`]) and what it does through GitHub ([`Acts`]).
const TABLE: &str = "
GET    /api/openapi.json                             use     no
GET    /api/v1/client/auth/client_info               use     no
GET    /api/v1/apps                                  use     no
GET    /api/v1/apps/{name}                           use     no
GET    /api/v1/integrations                          use     no
POST   /api/v1/integrations                          admin   no
GET    /api/v1/integrations/{id}                     use     no
PATCH  /api/v1/integrations/{id}                     admin   no
DELETE /api/v1/integrations/{id}                     admin   no
GET    /api/v1/entities                              use     no
GET    /api/v1/connectedAccounts                     use     no
POST   /api/v1/connectedAccounts                     manage  no
GET    /api/v1/connectedAccounts/{id}                use     no
PATCH  /api/v1/connectedAccounts/{id}                manage  no
DELETE /api/v1/connectedAccounts/{id}                manage  no
POST   /api/v1/connectedAccounts/{id}/enable         manage  no
POST   /api/v1/connectedAccounts/{id}/disable        manage  no
GET    /api/v1/connectedAccounts/{id}/credentials    reveal  no
GET    /api/v1/connectedAccounts/{id}/wait           use     no
GET    /api/v1/connectedAccounts/{id}/info           use     no
GET    /api/v1/triggers                              use     no
GET    /api/v1/events                                use     no
GET    /api/v2/actions                               use     no
POST   /api/v2/actions/proxy                         use     proxy
GET    /api/v2/actions/{name}                        use     no
POST   /api/v2/actions/{name}/execute                use     write
POST   /api/v1/connectedAccounts/{id}/test           manage  no
POST   /api/v1/connectedAccounts/{id}/reconnect      manage  no
GET    /api/v1/keys                                  admin   no
POST   /api/v1/keys                                  admin   no
POST   /api/v1/keys/revoke                           admin   no
DELETE /api/v1/keys/{id}                             admin   no
GET    /api/v1/approvals                             admin   no
POST   /api/v1/approvals/page                        admin   no
POST   /api/v1/approvals/{id}/approve                admin   no
POST   /api/v1/approvals/{id}/deny                   admin   no
GET    /api/v1/audit                                 admin   no
GET    /api/v1/audit/verify                          admin   no
GET    /api/v1/mcp/servers                           use     no
POST   /api/v1/mcp/servers                           admin   no
POST   /api/v1/mcp/servers/{name}/token              use     no
POST   /api/v1/mcp/servers/{name}/step_up            use     no
POST   /mcp                                          tools   no
GET    /mcp                                          tools   no
DELETE /mcp                                          tools   no
GET    /api/v3.1/auth_configs                        use     no
POST   /api/v3.1/auth_configs                        admin   no
GET    /api/v3.1/auth_configs/{nanoid}               use     no
PATCH  /api/v3.1/auth_configs/{nanoid}               admin   no
DELETE /api/v3.1/auth_configs/{nanoid}               admin   no
PATCH  /api/v3.1/auth_configs/{nanoid}/{status}      admin   no
GET    /api/v3.1/connected_accounts                  use     no
POST   /api/v3.1/connected_accounts                  manage  no
POST   /api/v3.1/connected_accounts/link             use     connect
GET    /api/v3.1/connected_accounts/{nanoid}         use     no
DELETE /api/v3.1/connected_accounts/{nanoid}         manage  no
PATCH  /api/v3.1/connected_accounts/{nanoid}/status  manage  no
GET    /api/v3.1/toolkits                            use     no
GET    /api/v3.1/toolkits/categories                 use     no
GET    /api/v3.1/toolkits/{slug}                     use     no
GET    /api/v3.1/tools                               use     no
POST   /api/v3.1/tools/execute/proxy                 use     proxy
POST   /api/v3.1/tools/execute/{tool_slug}           use     write
GET    /api/v3.1/tools/{tool_slug}                   use     no
";

/// [`TABLE`], parsed.
fn table() -> Vec<(&'static str, &'static str, Needs, Acts)> {
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let [method, path, needs, acts] = cells[..] else {
                panic!("not a row of four cells: {line}");
            };
            let needs = match needs {
                "use" => Use,
                "manage" => Manage,
                "reveal" => Reveal,
                "admin" => Admin,
                "tools" => Tools,
                _ => panic!("{line}: no such need"),
            };
            let acts = match acts {
                "no" => No,
                "proxy" => Proxy,
                "write" => Write,
                "connect" => Connect,
                _ => panic!("{line}: no such act"),
            };
            (method, path, needs, acts)
        })
        .collect()
}

/// The keys of the table: a permission (`None`: the server's admin key) and a body for
/// `POST /api/v1/keys` adding restrictions.
const KINDS: &[(&str, Needs, &str)] = &[
    ("use", Use, "{}"),
    ("manage", Manage, "{}"),
    ("reveal", Reveal, "{}"),
    ("admin", Admin, "{}"),
    ("use+apps", Use, r#"{"allowedApps": ["slack"]}"#),
    ("use+GET", Use, r#"{"allowedMethods": ["GET", "HEAD"]}"#),
    (
        "use+action",
        Use,
        r#"{"allowedActions": ["GITHUB_GET_THE_AUTHENTICATED_USER"]}"#,
    ),
    ("use+expired", Use, r#"{"expiresIn": 1}"#),
];

/// The documented answer: `Ok(())` passes (neither 401 nor 403), `Err((status, code))`.
fn documented(kind: &str, has: Needs, needs: Needs, acts: Acts) -> Result<(), (u16, &str)> {
    if kind == "use+expired" {
        return Err((401, "unauthorized"));
    }
    let allowed = match (has, needs) {
        (_, Tools) => has == Use,
        (Admin, _) | (_, Use) => true,
        (has, needs) => has == needs,
    };
    if !allowed {
        return Err((403, "forbidden"));
    }
    match (kind, acts) {
        ("use+apps", Proxy | Write | Connect) => Err((403, "restricted_app")),
        ("use+GET", Proxy | Write) => Err((403, "restricted_method")),
        ("use+action", Proxy | Write) => Err((403, "restricted_action")),
        _ => Ok(()),
    }
}

/// What the table acts on: a GitHub integration and ACTIVE connection of alice that stay
/// as they are, a second pair that the calls meant to change may change, and the stand-in
/// GitHub API.
struct Fixture {
    server: Server,
    github: Upstream,
    integration: String,
    connection: String,
    victim_integration: String,
    victim_connection: String,
}

fn v3(prefix: &str, uuid: &str) -> String {
    format!("{prefix}{}", uuid.replace('-', ""))
}

impl Fixture {
    fn start() -> Fixture {
        let server = Server::start();
        let github = Upstream::start(|_| json_reply(200, json!({"ok": true})));
        let pair = |token: &str| {
            let connection = server.bearer("github", &github.base, "alice", token);
            let integration = server.connection(&connection)["integrationId"]
                .as_str()
                .unwrap()
                .to_string();
            (integration, connection)
        };
        let (integration, connection) = pair("ghp_kept_0123456789");
        let (victim_integration, victim_connection) = pair("ghp_victim_0123456789");
        Fixture {
            server,
            github,
            integration,
            connection,
            victim_integration,
            victim_connection,
        }
    }

    fn mint(&self, has: Needs, extra: &str) -> String {
        let mut body: Value = serde_json::from_str(extra).unwrap();
        let permission = format!("{has:?}").to_lowercase();
        body["name"] = json!(format!("{permission} {extra}"));
        body["permission"] = json!(permission);
        body["entityId"] = json!("alice");
        let created = self.server.ok("POST", "/api/v1/keys", Some(&body));
        created["key"].as_str().unwrap().to_string()
    }

    /// The request for a route: its path with ids filled in (the changeable pair when the
    /// call may change something), and a body its handler reads.
    fn request(&self, method: &str, template: &str, changes: bool) -> (String, Option<Value>) {
        let (int, conn) = match changes {
            true => (&self.victim_integration, &self.victim_connection),
            false => (&self.integration, &self.connection),
        };
        let nanoid = match template.contains("auth_configs") {
            true => v3("ac_", int),
            false => v3("ca_", conn),
        };
        let id = match template {
            t if t.starts_with("/api/v1/integrations") => int.clone(),
            t if t.starts_with("/api/v1/keys") => "00000000-0000-4000-8000-000000000000".into(),
            _ => conn.clone(),
        };
        let path = template
            .replace("{id}", &id)
            .replace("{name}", "GITHUB_CREATE_AN_ISSUE")
            .replace("/apps/GITHUB_CREATE_AN_ISSUE", "/apps/github")
            .replace("{nanoid}", &nanoid)
            .replace("{status}", "ENABLED")
            .replace("{slug}", "github")
            .replace("{tool_slug}", "GITHUB_CREATE_AN_ISSUE");
        let path = match template.ends_with("/wait") {
            true => format!("{path}?timeout=0"),
            false => path,
        };
        (path, self.body(method, template, int))
    }

    fn body(&self, method: &str, template: &str, int: &str) -> Option<Value> {
        let issue = json!({"owner": "o", "repo": "r", "title": "t"});
        let route = format!("{method} {}", template.replace("/api/v3/", "/api/v3.1/"));
        Some(match route.as_str() {
            "POST /api/v1/integrations" => json!({"appName": "github",
                "authScheme": "BEARER_TOKEN", "authConfig": {"base_url": self.github.base}}),
            "PATCH /api/v1/integrations/{id}" => json!({"name": "renamed"}),
            "POST /api/v1/connectedAccounts" => json!({"integrationId": int,
                "userUuid": "alice", "data": {"token": "ghp_new_0123456789"}}),
            "PATCH /api/v1/connectedAccounts/{id}" => json!({"labels": ["x"]}),
            "POST /api/v2/actions/proxy" => json!({"connectedAccountId": self.connection,
                "endpoint": "/user", "method": "POST", "body": {"a": 1}}),
            "POST /api/v2/actions/{name}/execute" => {
                json!({"connectedAccountId": self.connection, "input": issue})
            }
            "POST /api/v1/keys" => json!({"name": "minted"}),
            // A name refused before any discovery: no remote server is needed to pass.
            "POST /api/v1/mcp/servers" => json!({"name": "not a name", "url": "https://x"}),
            "POST /api/v1/mcp/servers/{name}/token" => json!({"entityId": "alice"}),
            "POST /api/v1/mcp/servers/{name}/step_up" => json!({"scope": "more"}),
            // `true` would revoke the table's own keys: the panic button has its own test.
            "POST /api/v1/keys/revoke" => json!({"all": false}),
            "POST /mcp" => json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "table", "version": "1"}}}),
            "POST /api/v3.1/auth_configs" => json!({"toolkit": {"slug": "github"},
                "auth_config": {"type": "use_custom_auth", "auth_scheme": "BEARER_TOKEN"}}),
            "PATCH /api/v3.1/auth_configs/{nanoid}" => {
                json!({"type": "custom", "name": "renamed"})
            }
            "POST /api/v3.1/connected_accounts" => json!({"auth_config": {"id": v3("ac_", int)},
                "connection": {"user_id": "alice", "data": {"token": "ghp_v3_0123456789"}}}),
            "POST /api/v3.1/connected_accounts/link" => {
                json!({"auth_config_id": v3("ac_", &self.integration), "user_id": "alice"})
            }
            "PATCH /api/v3.1/connected_accounts/{nanoid}/status" => json!({"enabled": true}),
            "POST /api/v3.1/tools/execute/proxy" => json!({
                "connected_account_id": v3("ca_", &self.connection),
                "endpoint": "/user", "method": "POST", "body": {"a": 1}}),
            "POST /api/v3.1/tools/execute/{tool_slug}" => json!({
                "connected_account_id": v3("ca_", &self.connection), "arguments": issue}),
            _ => return None,
        })
    }
}

/// Every route of the router with what it needs, from [`TABLE`]; a route missing there
/// fails here.
fn routes() -> Vec<(String, &'static str, Needs, Acts)> {
    let table = table();
    let all: Vec<_> = keyport::http::routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/") || r.path == "/mcp")
        .map(|r| {
            let method = r.method.to_uppercase();
            let wanted = r.path.replacen("/api/v3/", "/api/v3.1/", 1);
            let row = table
                .iter()
                .find(|(m, p, ..)| *m == method && *p == wanted)
                .unwrap_or_else(|| {
                    panic!(
                        "{method} {}: not in the permission table; say what it needs here and in the README",
                        r.path
                    )
                });
            (method, r.path, row.2, row.3)
        })
        .collect();
    assert!(all.len() > table.len(), "v3 routes are served twice");
    all
}

/// A snapshot of what must not change: the kept connection and integration as the admin
/// reads them.
fn kept(fx: &Fixture) -> (Value, Value) {
    (
        fx.server.connection(&fx.connection),
        fx.server.ok(
            "GET",
            &format!("/api/v1/integrations/{}", fx.integration),
            None,
        ),
    )
}

#[test]
fn every_route_answers_each_permission_and_restriction_as_documented() {
    let fx = Fixture::start();
    let keys: Vec<(&str, Needs, String)> = KINDS
        .iter()
        .map(|(kind, has, extra)| match *kind {
            "admin" => (*kind, *has, fx.server.admin.clone()),
            _ => (*kind, *has, fx.mint(*has, extra)),
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = kept(&fx);
    let mut cases = 0;
    for (method, template, needs, acts) in routes() {
        // Refusals first, on the kept pair; then the calls that pass, on the other one.
        let mut order: Vec<_> = keys.iter().collect();
        order.sort_by_key(|(kind, has, _)| documented(kind, *has, needs, acts).is_ok());
        for (kind, has, key) in order {
            let expected = documented(kind, *has, needs, acts);
            let changes = expected.is_ok() && (method != "GET" || template == "/mcp");
            let (path, body) = fx.request(&method, template, changes);
            let upstream_before = fx.github.count();
            let (status, answer) = call_once(&fx.server, &method, &path, key, body.as_ref());
            let case = format!("{kind} {method} {path}: {status} {answer}");
            match expected {
                Ok(()) => {
                    assert!(![401, 403].contains(&status) && status < 500, "{case}");
                    let sent = matches!(acts, Proxy | Write) as usize;
                    assert_eq!(fx.github.count(), upstream_before + sent, "{case}");
                }
                Err((want, code)) => {
                    let got = match path.starts_with("/api/v3") {
                        true => &answer["error"]["slug"],
                        false => &answer["error"]["code"],
                    };
                    assert_eq!((status, got.as_str()), (want, Some(code)), "{case}");
                    assert_eq!(
                        fx.github.count(),
                        upstream_before,
                        "refused, yet sent: {case}"
                    );
                }
            }
            cases += 1;
        }
    }
    assert_eq!(kept(&fx), before, "a refused call changed the kept pair");
    println!("{cases} (key x route) cases answered as documented");
}

/// A `use` key changes nothing: every route that changes connections or integrations
/// refuses it with 403 on the real objects, which stay exactly as they were, and the
/// provider hears nothing (the who-am-I test and reconnect would reach it).
#[test]
fn a_use_key_changes_no_connection() {
    let fx = Fixture::start();
    let key = fx.mint(Use, "{}");
    let before = kept(&fx);
    let mut refused = 0;
    for (method, template, needs, _) in routes() {
        if !matches!(needs, Manage | Admin) {
            continue;
        }
        let (path, body) = fx.request(&method, template, false);
        let (status, answer) = call(&fx.server.url, &method, &path, Some(&key), body.as_ref());
        assert_eq!(status, 403, "{method} {path}: {answer}");
        refused += 1;
    }
    assert!(refused >= 20, "{refused}");
    assert_eq!(kept(&fx), before);
    assert_eq!(fx.github.count(), 0);
}
