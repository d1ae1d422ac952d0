//! What is on disk: secrets only as ciphertext, a wrong passphrase harmless, a damaged
//! header told apart from a wrong passphrase, passphrase change in one row, ciphertexts
//! bound to their row and column, private file modes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;
use serde_json::json;

use crate::common::{PASSPHRASE, PRIVATE_FILES, Server, keyport, succeeded};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref())
}

fn encodings(secret: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        secret.as_bytes().to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
        STANDARD.encode(secret).into_bytes(),
        STANDARD_NO_PAD.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
    ]
}

fn scan(dir: &Path, canaries: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for name in ["keyport.db", "keyport.db-wal", "keyport.db-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            continue;
        };
        for canary in canaries {
            for needle in encodings(canary) {
                if memchr::memmem::find(&bytes, &needle).is_some() {
                    hits.push(format!("{name}: {}", String::from_utf8_lossy(&needle)));
                }
            }
        }
    }
    hits
}

/// Writes integrations and connections holding canary secrets; returns the canaries.
fn write_canaries(server: &Server, count: usize) -> Vec<String> {
    let mut canaries = Vec::new();
    let basic = server.integration(json!({"appName": "jira", "authScheme": "BASIC"}));
    let bearer = server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let client_secret = "CANARY-client-secret-0b1d2e".to_string();
    server.integration(json!({"appName": "github", "authScheme": "OAUTH2", "authConfig": {"client_id": "cid", "client_secret": client_secret}}));
    canaries.push(client_secret);
    for i in 0..count {
        let token = format!("CANARY-token-{i:04}-a91f");
        let password = format!("CANARY-pw-{i:04}-77c2");
        server.create_connection(json!({"integrationId": bearer["id"], "userUuid": format!("user{i}"), "data": {"token": token}}));
        server.create_connection(json!({"integrationId": basic["id"], "userUuid": format!("user{i}"), "data": {"username": "me@example.com", "password": password, "subdomain": "acme"}}));
        canaries.push(token);
        canaries.push(password);
    }
    canaries
}

#[test]
fn canary_secrets_never_reach_the_disk_in_clear() {
    if crate::common::database::sqlite_only("canary_secrets_never_reach_the_disk_in_clear") {
        return;
    }
    let mut server = Server::start();
    let canaries = write_canaries(&server, 50);
    let hits = scan(&server.dir, &canaries);
    assert!(
        hits.is_empty(),
        "plaintext secrets on disk while running: {hits:?}"
    );
    server.stop();
    let hits = scan(&server.dir, &canaries);
    assert!(
        hits.is_empty(),
        "plaintext secrets on disk after shutdown: {hits:?}"
    );
    // And the scan can see them if they were there (the check is not blind).
    let probe = server.dir.join("probe.bin");
    std::fs::write(&probe, hex::encode(&canaries[3])).unwrap();
    let planted = std::fs::read(&probe).unwrap();
    assert!(memchr::memmem::find(&planted, &encodings(&canaries[3])[1]).is_some());
    println!(
        "{} canaries x 6 encodings: 0 hits in keyport.db, -wal, -shm",
        canaries.len()
    );
    // The log carries no secret either.
    let log = server.log();
    for canary in &canaries {
        assert!(!log.contains(canary.as_str()), "log leaked {canary}");
    }
}

#[test]
fn files_are_private() {
    if crate::common::database::sqlite_only("files_are_private") {
        return;
    }
    let server = Server::start();
    write_canaries(&server, 1);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.dir), 0o700);
    for name in PRIVATE_FILES {
        let path = server.dir.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
}

/// `keyport serve` in `dir` with `passphrase` must exit with status 2, saying `says` and
/// not `not`.
fn refused(dir: &Path, passphrase: &str, says: &str, not: &str) {
    let out = Server::start_in(dir, passphrase)
        .err()
        .expect("keyport must not serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(!stderr.contains(not), "{stderr}");
}

#[test]
fn wrong_passphrase_is_clear_and_changes_nothing() {
    if crate::common::database::sqlite_only("wrong_passphrase_is_clear_and_changes_nothing") {
        return;
    }
    let mut server = Server::start();
    write_canaries(&server, 2);
    server.stop();
    let db = server.dir.join("keyport.db");
    let before = sha256(&db);
    for wrong in [
        "wrong",
        "correct horse battery stapl",
        "CORRECT HORSE BATTERY STAPLE",
    ] {
        refused(&server.dir, wrong, "wrong passphrase", "corrupt");
        assert_eq!(
            sha256(&db),
            before,
            "the database changed after a failed unlock"
        );
    }
    server.restart();
    assert_eq!(
        server.ok("GET", "/api/v1/connectedAccounts", None)["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_damaged_header_is_corrupt_not_a_wrong_passphrase() {
    if crate::common::database::sqlite_only("a_damaged_header_is_corrupt_not_a_wrong_passphrase") {
        return;
    }
    let server = Server::stopped();
    let db = server.dir.join("keyport.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut header: Vec<u8> = conn
            .query_row("SELECT header FROM vault", [], |r| r.get(0))
            .unwrap();
        let last = header.len() - 1;
        header[last] ^= 0x01;
        conn.execute("UPDATE vault SET header = ?1", [header])
            .unwrap();
    }
    refused(&server.dir, PASSPHRASE, "corrupt", "wrong passphrase");
}

fn table_dump(db: &Path) -> Vec<(String, Vec<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for table in [
        "vault",
        "integrations",
        "connections",
        "entities",
        "api_keys",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let columns = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |row| {
                let mut parts = Vec::new();
                for i in 0..columns {
                    let v: rusqlite::types::Value = row.get(i)?;
                    parts.push(format!("{v:?}"));
                }
                Ok(parts.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.push((table.to_string(), rows));
    }
    out
}

#[test]
fn passwd_rewrites_one_row_and_every_secret_still_opens() {
    if crate::common::database::sqlite_only("passwd_rewrites_one_row_and_every_secret_still_opens")
    {
        return;
    }
    let mut server = Server::start();
    let canaries = write_canaries(&server, 5);
    server.stop();
    let db = server.dir.join("keyport.db");
    let before = table_dump(&db);
    let out = keyport(&server.dir)
        .arg("passwd")
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .env("KEYPORT_NEW_PASSPHRASE", "a brand new passphrase")
        .output()
        .unwrap();
    succeeded(&out);
    let after = table_dump(&db);
    let mut changed_rows = 0;
    for ((table, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(old.len(), new.len(), "{table} row count changed");
        let diff = old.iter().zip(new).filter(|(a, b)| a != b).count();
        if table != "vault" {
            assert_eq!(diff, 0, "{table} changed");
        }
        changed_rows += diff;
    }
    assert_eq!(changed_rows, 1, "exactly the vault row changes");

    // Old passphrase refused, new one opens every secret.
    let out = Server::start_in(&server.dir, PASSPHRASE)
        .err()
        .expect("old passphrase must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    let renewed =
        Server::start_in(&server.dir, "a brand new passphrase").expect("new passphrase serves");
    let list = renewed.ok("GET", "/api/v1/connectedAccounts", None);
    let mut opened = Vec::new();
    for item in list["items"].as_array().unwrap() {
        let creds = renewed.ok(
            "GET",
            &format!(
                "/api/v1/connectedAccounts/{}/credentials",
                item["id"].as_str().unwrap()
            ),
            None,
        );
        let secret = creds["credentials"]["token"]
            .as_str()
            .or(creds["credentials"]["password"].as_str())
            .unwrap()
            .to_string();
        opened.push(secret);
    }
    opened.sort();
    let mut expected: Vec<String> = canaries
        .iter()
        .filter(|c| !c.contains("client-secret"))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(opened, expected);
    // A wrong current passphrase leaves everything alone.
    let out = keyport(&server.dir)
        .arg("passwd")
        .env("KEYPORT_PASSPHRASE", "nope")
        .env("KEYPORT_NEW_PASSPHRASE", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_ciphertext_moved_to_another_row_or_column_does_not_open() {
    let mut server = Server::start();
    let integration =
        server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    let a = server.create_connection(
        json!({"integrationId": integration["id"], "data": {"token": "token-a"}}),
    );
    let b = server.create_connection(
        json!({"integrationId": integration["id"], "data": {"token": "token-b"}}),
    );
    let oauth = server.integration(json!({"appName": "github", "authScheme": "OAUTH2", "authConfig": {"client_id": "c", "client_secret": "s"}}));
    let (a, b) = (
        a["connectedAccountId"].as_str().unwrap().to_string(),
        b["connectedAccountId"].as_str().unwrap().to_string(),
    );
    server.stop();
    // On either backend: the ids are keyport's own (letters, digits, dashes).
    let oauth = oauth["id"].as_str().unwrap();
    // Row swap: b gets a's ciphertext.
    server.sql(&format!("UPDATE connections SET secrets = (SELECT secrets FROM connections WHERE id = '{a}') WHERE id = '{b}'"));
    // Table/column swap: a gets the integration's sealed config.
    server.sql(&format!("UPDATE connections SET secrets = (SELECT secrets FROM integrations WHERE id = '{oauth}') WHERE id = '{a}'"));
    server.restart();
    for id in [&a, &b] {
        let (status, value) = server.call(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            Some(&server.admin),
            None,
        );
        assert_eq!(status, 500, "{value}");
        assert_eq!(value["error"]["code"], "seal_open_failed", "{value}");
        assert!(!value.to_string().contains("token-"));
    }
}

#[test]
fn serve_with_the_readme_command_on_a_fresh_machine() {
    if crate::common::database::sqlite_only("serve_with_the_readme_command_on_a_fresh_machine") {
        return;
    }
    // The README's run command is `cargo run --release -- serve`: default data dir, default
    // port, passphrase from the environment. Simulate a fresh machine with an empty HOME.
    let home = tempfile::tempdir().unwrap();
    if std::net::TcpListener::bind("127.0.0.1:7790").is_err() {
        panic!("port 7790 is busy; stop whatever listens there to run this test");
    }
    let mut child = std::process::Command::new(crate::common::bin())
        .arg("serve")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .env("KEYPORT_KDF_MS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let data = home.path().join(".local/share/keyport");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut served = None;
    while std::time::Instant::now() < deadline {
        if let Ok(key) = std::fs::read_to_string(data.join("admin.key"))
            && let Ok(mut r) = crate::common::agent()
                .get("http://127.0.0.1:7790/api/v1/integrations")
                .header("x-api-key", key.trim())
                .call()
        {
            served = Some((r.status().as_u16(), r.body_mut().read_to_string().unwrap()));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let (status, body) = served.expect("keyport serve answered on 127.0.0.1:7790");
    assert_eq!(status, 200, "{body}");
    assert!(data.join("keyport.db").exists());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("http://127.0.0.1:7790"), "{stdout}");
    assert!(stdout.contains("admin.key"), "{stdout}");
}
