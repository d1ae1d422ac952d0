//! The one query keep-alive schedules by: the connections whose grant may lapse unused,
//! joined with their integrations, reading only the two parameters the schedule needs.

use super::db::{Db, Dialect};
use super::{StoreError, corrupt};
use crate::ids::ConnectionId;

/// An ACTIVE OAuth 2.0 connection holding a refresh token, on an enabled integration that
/// does not use client credentials: one whose grant may lapse unused. Its `issued_at` and
/// `refresh_token_expires_at` parameters (Unix seconds) are what keep-alive schedules by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewable {
    pub id: ConnectionId,
    pub app_key: String,
    pub issued_at: Option<i64>,
    pub refresh_expires_at: Option<i64>,
}

/// Every connection whose grant keep-alive may have to refresh, read in one query that
/// parses no more of a row than those two parameters.
pub fn renewable(db: &Db<'_>) -> Result<Vec<Renewable>, StoreError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => {
            "SELECT c.id, c.app_key,
                CAST(json_extract(c.params, '$.issued_at') AS INTEGER),
                CAST(json_extract(c.params, '$.refresh_token_expires_at') AS INTEGER)
         FROM connections c
         WHERE c.status = 'ACTIVE'
           AND c.integration_id IN (SELECT id FROM integrations WHERE enabled = 1 AND deleted = 0
                 AND auth_scheme = 'OAUTH2' AND json_extract(config, '$.grant_type') IS NOT 'client_credentials')
           AND EXISTS (SELECT 1 FROM json_each(c.secret_keys) WHERE json_each.value = 'refresh_token')"
        }
        // As SQLite's CAST, a fractional number is cut to its integer part.
        Dialect::Postgres => {
            "SELECT c.id, c.app_key,
                trunc((c.params::jsonb ->> 'issued_at')::numeric)::bigint,
                trunc((c.params::jsonb ->> 'refresh_token_expires_at')::numeric)::bigint
         FROM connections c
         WHERE c.status = 'ACTIVE'
           AND c.integration_id IN (SELECT id FROM integrations WHERE enabled AND NOT deleted
                 AND auth_scheme = 'OAUTH2' AND (config::jsonb ->> 'grant_type') IS DISTINCT FROM 'client_credentials')
           AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(c.secret_keys::jsonb) AS k (value) WHERE k.value = 'refresh_token')"
        }
    };
    let mut out = Vec::new();
    for row in db.query(sql, &[])? {
        let id: String = row.get(0)?;
        out.push(Renewable {
            id: id
                .parse()
                .map_err(|_| corrupt("bad connection id".into()))?,
            app_key: row.get(1)?,
            issued_at: row.get(2)?,
            refresh_expires_at: row.get(3)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::domain::{AuthScheme, ConnectionStatus};
    use crate::ids::{EntityId, IntegrationId};
    use crate::store::{
        IntegrationPatch, NewConnection, NewIntegration, Store, connections, integrations,
    };

    fn integration(db: &Db, scheme: AuthScheme, config: Value, enabled: bool) -> IntegrationId {
        let id = IntegrationId::new();
        integrations::insert(
            db,
            &NewIntegration {
                id,
                app_key: "gmail",
                auth_scheme: scheme,
                fields: IntegrationPatch {
                    name: "gmail",
                    config: config.as_object().unwrap(),
                    secret_keys: &[],
                    secrets: None,
                    scopes: &[],
                    base_url: "https://gmail.googleapis.com",
                    enabled,
                    now: "t0",
                },
            },
        )
        .unwrap();
        id
    }

    fn connection(
        db: &Db,
        integration: IntegrationId,
        status: ConnectionStatus,
        secret_keys: &[&str],
        params: Value,
    ) -> ConnectionId {
        let id = ConnectionId::new();
        let keys: Vec<String> = secret_keys.iter().map(|k| k.to_string()).collect();
        let params: Map<String, Value> = params.as_object().unwrap().clone();
        connections::insert(
            db,
            &NewConnection {
                id,
                integration_id: integration,
                entity_id: &EntityId::default_entity(),
                app_key: "gmail",
                status,
                status_reason: None,
                labels: &[],
                params: &params,
                secret_keys: &keys,
                secrets: Some(b"sealed"),
                now: "t0",
            },
        )
        .unwrap();
        id
    }

    #[test]
    fn only_active_oauth_grants_with_a_refresh_token_on_enabled_integrations_are_renewable() {
        for (store, scratch) in crate::store::testing::scratches() {
            renewable_on(&store, scratch.name);
        }
    }

    fn renewable_on(store: &Store, backend: &str) {
        let tokens = ["access_token", "refresh_token"];
        let active = ConnectionStatus::Active;
        let (kept, fresh) = store
            .write(|db| {
                let oauth = integration(db, AuthScheme::OAuth2, json!({}), true);
                let kept = connection(
                    db,
                    oauth,
                    active,
                    &tokens,
                    json!({"issued_at": 1000, "refresh_token_expires_at": 5000, "scope": "a"}),
                );
                let fresh = connection(db, oauth, active, &tokens, json!({}));
                // Not renewable: no refresh token, not ACTIVE, a disabled integration, a
                // machine client, another scheme.
                connection(
                    db,
                    oauth,
                    active,
                    &["access_token"],
                    json!({"issued_at": 1}),
                );
                connection(db, oauth, ConnectionStatus::Inactive, &tokens, json!({}));
                connection(db, oauth, ConnectionStatus::Expired, &tokens, json!({}));
                let off = integration(db, AuthScheme::OAuth2, json!({}), false);
                connection(db, off, active, &tokens, json!({}));
                let machine = integration(
                    db,
                    AuthScheme::OAuth2,
                    json!({"grant_type": "client_credentials"}),
                    true,
                );
                connection(db, machine, active, &tokens, json!({}));
                let jwt = integration(db, AuthScheme::BasicWithJwt, json!({}), true);
                connection(db, jwt, active, &tokens, json!({}));
                Ok::<_, StoreError>((kept, fresh))
            })
            .unwrap();
        let mut found = store.read(renewable).unwrap();
        found.sort_by_key(|r| r.issued_at.is_none());
        assert_eq!(
            found,
            [
                Renewable {
                    id: kept,
                    app_key: "gmail".into(),
                    issued_at: Some(1000),
                    refresh_expires_at: Some(5000),
                },
                Renewable {
                    id: fresh,
                    app_key: "gmail".into(),
                    issued_at: None,
                    refresh_expires_at: None,
                },
            ],
            "{backend}"
        );
    }
}
