//! keyport as a library, for tests that drive the service directly rather than over HTTP:
//! a `Service` on a throwaway vault with the fast KDF, an admin caller, and a user provider
//! catalog written by the test; its clock is moved forward instead of sleeping.

use std::path::Path;
use std::time::Duration;

use keyport::clock::Clock;
use keyport::domain::{AuthScheme, ConnectionStatus};
use keyport::ids::{ConnectionId, EntityId, IntegrationId};
use keyport::providers::Catalog;
use keyport::service::Error;
use keyport::service::{Caller, CreateConnection, CreateIntegration, Prepared, Service};
use keyport::store::{DatabaseUrl, Location, NewConnection, Store, StoreError, connections};
use keyport::vault::{Aad, KdfParams, Vault};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

pub struct Library {
    pub service: Service,
    pub admin: Caller,
    /// The store's PostgreSQL database on a PostgreSQL run; dropped after the service.
    _database: Option<std::sync::Arc<super::database::Database>>,
    _tmp: tempfile::TempDir,
}

impl Library {
    /// A service on a fresh vault; `providers` writes user catalog files under the
    /// directory it is given (as `providers/*.json`).
    pub fn new(providers: impl FnOnce(&Path)) -> Library {
        let tmp = tempfile::tempdir().expect("tempdir");
        let clock = Clock::system();
        let pass = SecretString::from("library tests".to_string());
        let (vault, record) = Vault::create(&pass, KdfParams::FLOOR).expect("vault");
        // The SQLite file in the temporary dir, or on a PostgreSQL run a database of its own.
        let database = super::database::for_dir(tmp.path());
        // This library is the database's only user: the registry need not keep it.
        drop(super::database::take(tmp.path()));
        let at = match &database {
            Some(database) => {
                Location::Postgres(DatabaseUrl::parse(database.url()).expect("database URL"))
            }
            None => Location::File(tmp.path().join("keyport.db")),
        };
        let store = Store::create(at, &record, &clock.stamp()).expect("store");
        std::fs::create_dir(tmp.path().join("providers")).expect("providers dir");
        providers(tmp.path());
        let (catalog, problems) = Catalog::load(&tmp.path().join("providers"));
        assert!(problems.is_empty(), "{problems:?}");
        let service = Service::new(
            store,
            vault,
            catalog,
            clock,
            "http://127.0.0.1:9".into(),
            &keyport::config::Config::default(),
        )
        .expect("svc");
        let key = service
            .ensure_admin_key(None)
            .expect("admin key")
            .expect("a new admin key");
        let admin = service.authenticate(key.expose_secret()).expect("admin");
        Library {
            service,
            admin,
            _database: database,
            _tmp: tmp,
        }
    }

    /// A service whose user catalog holds `apps` (when given).
    pub fn with_apps(apps: Option<Value>) -> Library {
        Library::new(|dir| {
            if let Some(apps) = apps {
                std::fs::write(
                    dir.join("providers/test.json"),
                    json!({ "apps": apps }).to_string(),
                )
                .expect("user catalog");
            }
        })
    }

    pub fn integration(
        &self,
        app: &str,
        scheme: AuthScheme,
        config: Value,
    ) -> Result<IntegrationId, Error> {
        let view = self.service.create_integration(
            &self.admin,
            CreateIntegration {
                app: app.into(),
                auth_scheme: Some(scheme),
                auth_config: object(config),
                ..CreateIntegration::default()
            },
        )?;
        Ok(view.integration.id)
    }

    /// An ACTIVE connection with `data`.
    pub fn connect(
        &self,
        integration_id: IntegrationId,
        data: Value,
    ) -> Result<ConnectionId, Error> {
        let request = CreateConnection {
            integration_id,
            data: object(data),
            ..CreateConnection::default()
        };
        let created = self.service.create_connection(&self.admin, request)?;
        assert_eq!(created.status, ConnectionStatus::Active);
        Ok(created.id)
    }

    /// An ACTIVE connection written straight to the store, as a finished browser flow
    /// leaves it (OAuth 1.0a connections are completed by the browser).
    pub fn insert_connection(
        &self,
        integration_id: IntegrationId,
        app_key: &str,
        secrets: Value,
    ) -> ConnectionId {
        let id = ConnectionId::new();
        let row = id.to_string();
        let aad = Aad {
            table: "connections",
            row: &row,
            column: "secrets",
        };
        let sealed = self
            .service
            .vault()
            .seal(&aad, secrets.to_string().as_bytes())
            .expect("seal");
        let keys: Vec<String> = object(secrets).keys().cloned().collect();
        let entity = EntityId::default_entity();
        let now = self.service.clock().stamp();
        let row = NewConnection {
            id,
            integration_id,
            entity_id: &entity,
            app_key,
            status: ConnectionStatus::Active,
            status_reason: None,
            labels: &[],
            params: &Map::new(),
            secret_keys: &keys,
            secrets: Some(&sealed),
            now: &now,
        };
        self.service
            .store()
            .write(|tx| connections::insert(tx, &row))
            .map_err(|e: StoreError| e)
            .expect("insert connection");
        id
    }

    pub fn prepare(&self, id: ConnectionId) -> Result<Prepared, Error> {
        let get = http::Method::GET;
        self.service
            .prepare(&self.admin, id, keyport::service::Act::Request(&get))
    }

    /// The connection's status and its reason.
    pub fn status(&self, id: ConnectionId) -> (ConnectionStatus, String) {
        let view = self.service.get_connection(&self.admin, id).expect("get");
        (
            view.connection.status,
            view.connection.status_reason.unwrap_or_default(),
        )
    }

    pub fn advance(&self, secs: u64) {
        self.service.clock().advance(Duration::from_secs(secs));
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("a JSON object")
}
