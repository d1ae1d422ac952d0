//! `keyport migrate`: a laptop vault (SQLite) copied into PostgreSQL and back, each copy
//! served and checked through the API — every credential revealed byte for byte, the
//! integration's client secret and an OAuth flow started before the copy completing on it,
//! the API key minted before still working, `keyport audit verify` passing — and the
//! refusals that write nothing: the wrong passphrase, a source a keyport serves, a
//! destination that is not empty. Needs a PostgreSQL server (`KEYPORT_TEST_DATABASE_URL`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::common::database::{self, Database};
use crate::common::idp::{authorize_url, callback, testidp_integration, write_testidp};
use crate::common::stand_in::{Upstream, json_reply};
use crate::common::{Launch, PASSPHRASE, Server, keyport, succeeded};

const CLIENT_SECRET: &str = "CANARY-client-secret-5e1f";

/// The PostgreSQL server of this run, or `None` (and why the test has nothing to do).
fn postgres(test: &str) -> Option<String> {
    let server = database::server();
    if server.is_none() {
        eprintln!(
            "{test}: needs PostgreSQL; set {}",
            database::TEST_DATABASE_ENV
        );
    }
    server
}

/// keyport in `dir` on `database` (`None`: the SQLite file in `dir`), keep-alive off so
/// that nothing refreshes behind the test's back.
fn serve(dir: &Path, database: Option<&str>) -> Server {
    let mut cmd = Launch::default()
        .env("KEYPORT_KEEP_ALIVE", "false")
        .serve(dir);
    cmd.env_remove("KEYPORT_DATABASE_URL");
    if let Some(url) = database {
        cmd.env("KEYPORT_DATABASE_URL", url);
    }
    Server::spawn(dir, cmd).unwrap_or_else(|out| {
        panic!(
            "keyport did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `keyport migrate --to <to>` from the vault of `dir` (or of `from`).
fn migrate(dir: &Path, from: Option<&str>, to: &str, passphrase: &str) -> Output {
    let mut cmd = keyport(dir);
    cmd.env_remove("KEYPORT_DATABASE_URL")
        .env("KEYPORT_PASSPHRASE", passphrase)
        .args(["migrate", "--to", to]);
    if let Some(url) = from {
        cmd.args(["--database", url]);
    }
    cmd.output().expect("keyport migrate")
}

/// Asserts that `out` exited with `code` and said `says`; returns what it said.
fn refused(out: &Output, code: i32, says: &str) -> String {
    let said = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{said}");
    assert!(said.contains(says), "{said}");
    said
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A token endpoint issuing a new pair of long-lived tokens to each request.
fn token_endpoint() -> Upstream {
    let issued = Arc::new(AtomicUsize::new(0));
    Upstream::start(move |_| {
        let n = issued.fetch_add(1, Ordering::SeqCst);
        json_reply(
            200,
            json!({"access_token": format!("CANARY-at-{n}"), "refresh_token": format!("CANARY-rt-{n}"),
                   "token_type": "Bearer", "expires_in": 3600}),
        )
    })
}

/// What the vault holds, as the API shows it.
struct Held {
    /// Each ACTIVE connection's revealed credential.
    revealed: BTreeMap<String, Value>,
    /// The OAuth integration.
    integration: Value,
    /// The connect link of a flow started and not finished, its path only.
    pending: String,
    /// A `use` key minted on the first server.
    key: String,
}

/// An OAuth integration with its client secret, an OAuth connection (code exchanged at
/// `tokens`), a flow left pending, API_KEY, BEARER_TOKEN and BASIC connections, an API key,
/// and the audit records all of that leaves.
fn fill(server: &Server, tokens: &Upstream) -> Held {
    let integration = testidp_integration(
        server,
        &tokens.base,
        json!({"client_secret": CLIENT_SECRET}),
    );
    let mut ids = vec![crate::common::idp::oauth_connection(
        server,
        &integration,
        "bob",
        "code-1",
    )];
    for (app, scheme, data) in [
        ("openai", "API_KEY", json!({"api_key": "CANARY-api-key-77"})),
        (
            "github",
            "BEARER_TOKEN",
            json!({"token": "CANARY-bearer-0a"}),
        ),
        (
            "jira",
            "BASIC",
            json!({"username": "me@example.com", "password": "CANARY-pw-3c", "subdomain": "acme"}),
        ),
    ] {
        let made = server.integration(json!({"appName": app, "authScheme": scheme}));
        let created = server.create_connection(
            json!({"integrationId": made["id"], "userUuid": "alice", "data": data}),
        );
        ids.push(created["connectedAccountId"].as_str().unwrap().to_string());
    }
    let pending = server.create_connection(
        json!({"integrationId": integration["id"], "userUuid": "carol", "data": {}}),
    );
    let link = pending["redirectUrl"].as_str().unwrap();
    let key = server.mint_key(json!({"name": "agent", "permission": "use"}));
    Held {
        revealed: revealed(server, &ids),
        integration: server.ok(
            "GET",
            &format!(
                "/api/v1/integrations/{}",
                integration["id"].as_str().unwrap()
            ),
            None,
        ),
        pending: link.strip_prefix(&server.url).unwrap().to_string(),
        key,
    }
}

fn revealed(server: &Server, ids: &[String]) -> BTreeMap<String, Value> {
    ids.iter()
        .map(|id| {
            let (status, body) = server.reveal(id);
            assert_eq!(status, 200, "{id}: {body}");
            (id.clone(), body)
        })
        .collect()
}

/// `server`, on a copy, shows what `held` says, its key works, `audit verify` passes, and a
/// flow through the copied integration sends the same client secret.
fn check(server: &Server, held: &Held, tokens: &Upstream) {
    let ids: Vec<String> = held.revealed.keys().cloned().collect();
    assert_eq!(revealed(server, &ids), held.revealed, "every credential");
    let id = held.integration["id"].as_str().unwrap();
    let mut integration = server.ok("GET", &format!("/api/v1/integrations/{id}"), None);
    // The one field that names the server, not the vault.
    integration["callbackUrl"] = held.integration["callbackUrl"].clone();
    assert_eq!(integration, held.integration);
    let (status, body) = server.call("GET", "/api/v1/connectedAccounts", Some(&held.key), None);
    assert_eq!(status, 200, "the key minted before the copy: {body}");
    let before = tokens.count();
    let (_, link) = pending_flow(server, &held.integration);
    assert_eq!(callback(&server.url, &link, "code-check"), Some(200));
    let exchange = tokens.requests()[before].form();
    assert_eq!(
        exchange.get("client_secret").map(String::as_str),
        Some(CLIENT_SECRET)
    );
    assert!(exchange.contains_key("code_verifier"), "{exchange:?}");
    let out = keyport(&server.dir)
        .env_remove("KEYPORT_DATABASE_URL")
        .args(["audit", "verify"])
        .output()
        .expect("keyport audit verify");
    succeeded(&out);
}

/// A new flow through `integration` on `server`: the connection's id and connect link.
fn pending_flow(server: &Server, integration: &Value) -> (String, String) {
    let created = server.create_connection(
        json!({"integrationId": integration["id"], "userUuid": "dave", "data": {}}),
    );
    (
        created["connectedAccountId"].as_str().unwrap().to_string(),
        created["redirectUrl"].as_str().unwrap().to_string(),
    )
}

/// How many tables the database at `url` has.
fn tables(url: &str) -> i64 {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
    })
    .join()
    .unwrap()
}

#[test]
fn a_laptop_vault_goes_to_postgres_and_back_with_every_secret() {
    let Some(pg) = postgres("a_laptop_vault_goes_to_postgres_and_back_with_every_secret") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let laptop = tmp.path().join("laptop");
    write_testidp(&laptop);
    let tokens = token_endpoint();
    let mut server = serve(&laptop, None);
    let held = fill(&server, &tokens);
    server.stop();
    let target = Database::create(&pg);

    // The server trusts the test role: a password in the URL goes unused, and unshown.
    let mut with_password = url::Url::parse(target.url()).unwrap();
    with_password.set_password(Some("hunter2-CANARY")).unwrap();
    let copied = migrate(&laptop, None, with_password.as_str(), PASSPHRASE);
    succeeded(&copied);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&copied.stdout),
        stderr(&copied)
    );
    assert!(said.contains("sealed values open"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");

    // Served from PostgreSQL in the same data dir, the flow started on the laptop finishes.
    let mut server = serve(&laptop, Some(target.url()));
    let link = format!("{}{}", server.url, held.pending);
    assert!(authorize_url(&link).is_some(), "the pending flow's page");
    assert_eq!(callback(&server.url, &link, "code-2"), Some(200));
    check(&server, &held, &tokens);
    server.stop();

    // And back to a laptop: a new data dir with the same admin key and provider file.
    let back = tmp.path().join("back");
    write_testidp(&back);
    std::fs::copy(laptop.join("admin.key"), back.join("admin.key")).unwrap();
    let file = back.join("keyport.db");
    let returned = migrate(
        &back,
        Some(target.url()),
        file.to_str().unwrap(),
        PASSPHRASE,
    );
    succeeded(&returned);
    let server = serve(&back, None);
    check(&server, &held, &tokens);
}

#[test]
fn nothing_is_written_for_a_wrong_passphrase_a_served_source_or_a_full_destination() {
    let Some(pg) =
        postgres("nothing_is_written_for_a_wrong_passphrase_a_served_source_or_a_full_destination")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let laptop = tmp.path().join("laptop");
    let mut server = serve(&laptop, None);
    server.bearer("github", "https://api.github.com", "alice", "CANARY-t");
    let target = Database::create(&pg);

    let served = migrate(&laptop, None, target.url(), PASSPHRASE);
    refused(&served, 1, "in use");
    assert_eq!(tables(target.url()), 0);
    server.stop();

    let wrong = migrate(&laptop, None, target.url(), "not the passphrase");
    refused(&wrong, 2, "wrong passphrase");
    assert_eq!(tables(target.url()), 0);

    succeeded(&migrate(&laptop, None, target.url(), PASSPHRASE));
    let count = tables(target.url());
    let mut with_password = url::Url::parse(target.url()).unwrap();
    with_password.set_password(Some("hunter2-CANARY")).unwrap();
    let again = migrate(&laptop, None, with_password.as_str(), PASSPHRASE);
    let said = refused(&again, 1, "not empty");
    assert!(!said.contains("hunter2"), "{said}");
    assert_eq!(tables(target.url()), count);

    // A PostgreSQL source a keyport serves is refused as the SQLite file was.
    let elsewhere = tmp.path().join("elsewhere");
    let mut server = serve(&elsewhere, Some(target.url()));
    let copy = elsewhere.join("copy.db");
    let served = migrate(
        &elsewhere,
        Some(target.url()),
        copy.to_str().unwrap(),
        PASSPHRASE,
    );
    refused(&served, 1, "keyport serve");
    assert!(!copy.exists());
    server.stop();

    // A SQLite destination that holds a vault is refused the same way, byte for byte kept.
    let file = laptop.join("keyport.db");
    let bytes = std::fs::read(&file).unwrap();
    let onto = migrate(
        &laptop,
        Some(target.url()),
        file.to_str().unwrap(),
        PASSPHRASE,
    );
    refused(&onto, 1, "holds a keyport vault");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}
