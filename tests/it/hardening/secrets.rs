//! Secrets at the edges: a hostile vault header is refused before Argon2 runs, and `Debug`
//! of every type that holds a secret leaves it out.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use keyport::auth::oauth2::{Grant, OAuthConfig, TokenAuth};
use keyport::auth::{Credentials, Fields, Injection, Stored};
use keyport::domain::AuthScheme;
use keyport::secret::{AccessToken, ClientSecret, RefreshToken, SecretFields};
use keyport::service::{CallbackQuery, CreateConnection, CreateIntegration, UpdateIntegration};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::common::{PASSPHRASE, Server, keyport};

/// Rewrites the vault row's KDF parameters (bytes 22..34 of the 54-byte header, see
/// src/vault/header.rs) and recomputes the header checksum, so only the range check stands
/// between the header and Argon2.
fn patch_kdf(db: &Path, m_kib: u32, t_cost: u32, p_cost: u32) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (mut header, wrapped): (Vec<u8>, Vec<u8>) = conn
        .query_row("SELECT header, wrapped_dek FROM vault", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(header.len(), 54);
    header[22..26].copy_from_slice(&m_kib.to_be_bytes());
    header[26..30].copy_from_slice(&t_cost.to_be_bytes());
    header[30..34].copy_from_slice(&p_cost.to_be_bytes());
    let mut joined = header.clone();
    joined.extend_from_slice(&wrapped);
    let sum = ring::digest::digest(&ring::digest::SHA256, &joined);
    conn.execute(
        "UPDATE vault SET header = ?1, header_sha256 = ?2",
        rusqlite::params![header, sum.as_ref()],
    )
    .unwrap();
}

#[test]
fn a_vault_header_asking_for_terabytes_is_refused_in_milliseconds() {
    if crate::common::database::sqlite_only(
        "a_vault_header_asking_for_terabytes_is_refused_in_milliseconds",
    ) {
        return;
    }
    let server = Server::stopped();
    let db = server.dir.join("keyport.db");
    let original = std::fs::read(&db).unwrap();
    // The normal unlock, for comparison (floor parameters: 64 MiB, 3 passes).
    let mut normal = Server::start_in(&server.dir, PASSPHRASE).unwrap();
    let normal_ms = normal.ready.as_millis();
    normal.stop();
    let floor = (64 * 1024, 3, 4);
    for (label, (m, t, p)) in [
        ("m = 4 TiB", (u32::MAX, floor.1, floor.2)),
        ("t = 2^32-1", (floor.0, u32::MAX, floor.2)),
        ("p = 2^24", (floor.0, floor.1, 1 << 24)),
        ("all three", (u32::MAX, u32::MAX, 1 << 24)),
        ("m = 4 GiB + 1 KiB", (4 * 1024 * 1024 + 1, floor.1, floor.2)),
        ("below the floor", (8, 1, 1)),
    ] {
        std::fs::write(&db, &original).unwrap();
        patch_kdf(&db, m, t, p);
        let started = Instant::now();
        let out = keyport(&server.dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYPORT_PASSPHRASE", PASSPHRASE)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let ms = started.elapsed().as_millis();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{label}: {stderr}");
        assert!(
            stderr.contains("corrupt") && stderr.contains("outside the accepted range"),
            "{label}: {stderr}"
        );
        assert!(
            ms < 2000,
            "{label}: refusal took {ms} ms, as if the KDF had run"
        );
        println!(
            "KDF header {label}: refused by `keyport serve` in {ms} ms (a normal unlock and start: {normal_ms} ms)"
        );
    }
}

const CANARY: &str = "CANARY-debug-7c1e";

fn secret() -> SecretString {
    SecretString::from(CANARY.to_string())
}

fn map() -> Map<String, Value> {
    json!({"token": CANARY, "client_secret": CANARY, "password": CANARY})
        .as_object()
        .unwrap()
        .clone()
}

/// `Debug` of every type that holds a secret prints no secret.
#[test]
fn debug_output_of_secret_holding_types_is_redacted() {
    let mut shown = core_debug();
    shown.extend(service_input_debug());
    for text in &shown {
        assert!(!text.contains(CANARY), "Debug leaks a secret: {text}");
        assert!(!text.is_empty());
    }
    println!(
        "Debug of {} secret-holding types: 0 secrets shown",
        shown.len()
    );
}

/// The vault, keys, credentials, injections, OAuth configuration and grants.
fn core_debug() -> Vec<String> {
    let canary = CANARY;
    let (vault, record) =
        keyport::vault::Vault::create(&secret(), keyport::vault::KdfParams::FLOOR).unwrap();
    let created_key = keyport::service::CreatedKey {
        key: secret(),
        record: keyport::domain::api_key::ApiKey {
            id: keyport::ids::ApiKeyId::new(),
            name: "k".into(),
            prefix: "kp_".into(),
            permission: keyport::domain::api_key::Permission::Use,
            entity: None,
            restrictions: Default::default(),
            created_at: String::new(),
            revoked_at: None,
        },
    };
    let sealed: SecretFields = serde_json::from_value(Value::Object(map())).unwrap();
    let none = Map::new();
    let opened = |scheme: AuthScheme| {
        let stored = Stored {
            scheme,
            spec: None,
            app_key: "app",
            integration: Fields::new(&none, &sealed),
            scopes: &[],
            connection: Fields::new(&none, &sealed),
            callback_url: "",
        };
        format!("{:?}", Credentials::open(&stored))
    };
    vec![
        format!("{vault:?}"),
        format!("{record:?}"),
        format!("{created_key:?}"),
        format!("{sealed:?}"),
        opened(AuthScheme::BearerToken),
        opened(AuthScheme::Basic),
        opened(AuthScheme::OAuth2),
        opened(AuthScheme::BasicWithJwt),
        format!("{:?}", Injection::bearer(canary)),
        oauth_config_debug(canary),
        grant_debug(canary),
        format!(
            "{:?}",
            keyport::providers::Validated {
                plain: Map::new(),
                secret: map(),
            }
        ),
        format!(
            "{:?}",
            serde_json::from_value::<keyport::auth::oauth2::KeyportTokenResponse>(
                json!({"access_token": canary, "refresh_token": canary})
            )
            .unwrap()
        ),
    ]
}

/// An OAuth client configuration holding a client secret.
fn oauth_config_debug(canary: &str) -> String {
    format!(
        "{:?}",
        OAuthConfig {
            client_id: "c".into(),
            client_secret: Some(ClientSecret::new(canary)),
            authorization_url: None,
            token_url: "https://as.example/token".into(),
            revocation_url: None,
            redirect_uri: None,
            scopes: vec![],
            scope_separator: " ".into(),
            authorization_params: vec![],
            token_params: vec![],
            pkce: true,
            token_auth: TokenAuth::Post,
            json_body: false,
            tokens_at: None,
            response_vars: vec![],
        }
    )
}

/// A grant holding an access and a refresh token.
fn grant_debug(canary: &str) -> String {
    format!(
        "{:?}",
        Grant {
            access_token: AccessToken::new(canary),
            refresh_token: Some(RefreshToken::new(canary)),
            expires_in: None,
            refresh_expires_in: None,
            scopes: None,
            token_type: "Bearer".into(),
            vars: vec![],
        }
    )
}

/// What the service is asked with.
fn service_input_debug() -> Vec<String> {
    let canary = CANARY;
    vec![
        format!(
            "{:?}",
            CreateConnection {
                data: map(),
                ..CreateConnection::default()
            }
        ),
        format!(
            "{:?}",
            CreateIntegration {
                auth_config: map(),
                ..CreateIntegration::default()
            }
        ),
        format!(
            "{:?}",
            UpdateIntegration {
                auth_config: Some(map()),
                ..UpdateIntegration::default()
            }
        ),
        format!(
            "{:?}",
            CallbackQuery {
                code: Some(canary.into()),
                state: Some(canary.into()),
                ..CallbackQuery::default()
            }
        ),
    ]
}
