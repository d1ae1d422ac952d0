//! API keys: minting, authenticating, listing, revoking. Keys are 256-bit random strings
//! shown once; the database keeps their SHA-256. Authentication hashes the presented key
//! and compares digests in constant time, against an in-memory ring of active keys so the
//! hot path does no I/O. A key may carry restrictions (expiry, apps, actions, proxy
//! methods), checked when it is minted and kept with it; an expired key answers 401 like a
//! revoked one.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::caller::Caller;
use super::ctx::{Ctx, random_token, token_hash};
use crate::domain::api_key::{ApiKey, Approval, Permission, ProxyMethod, Restrictions};
use crate::ids::{ApiKeyId, EntityId};
use crate::service::error::{Error, Result};
use crate::store::{Db, NewApiKey, Store, StoreError, api_keys};

mod restrict;

const KEY_PREFIX: &str = "kp_";

/// A key to mint: its name, what it may do, the one entity it acts for, if any, and what
/// it is restricted to (`None`: unrestricted in that respect).
#[derive(Debug, Default)]
pub struct CreateKey {
    pub name: String,
    pub permission: Option<Permission>,
    pub entity: Option<EntityId>,
    /// Seconds from now; with `expires_at` too, the earlier wins.
    pub expires_in: Option<u64>,
    pub expires_at: Option<time::OffsetDateTime>,
    pub apps: Option<Vec<String>>,
    pub actions: Option<Vec<String>>,
    pub methods: Option<Vec<ProxyMethod>>,
    /// Whether its writes wait for the user's approval.
    pub approval: Approval,
}

/// A freshly minted key: the only moment its value exists outside the caller.
pub struct CreatedKey {
    pub key: SecretString,
    pub record: ApiKey,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &"[redacted]")
            .field("record", &self.record)
            .finish()
    }
}

/// One active key as authentication needs it: the record, its expiry in Unix
/// milliseconds, and its restrictions shared with every caller it admits.
struct Held {
    key: ApiKey,
    expires_ms: Option<i64>,
    restrictions: Arc<Restrictions>,
}

impl Held {
    fn of(key: ApiKey) -> Held {
        let expires_ms = key.restrictions.expires_at.as_deref().map(|at| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                // An unreadable stored expiry counts as already passed.
                .map_or(i64::MIN, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        });
        let restrictions = Arc::new(key.restrictions.clone());
        Held {
            key,
            expires_ms,
            restrictions,
        }
    }

    fn live(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|at| now_ms < at)
    }
}

/// Active keys by the SHA-256 of their value.
pub struct KeyRing {
    active: HashMap<[u8; 32], Held>,
}

impl KeyRing {
    pub fn load(store: &Store) -> Result<Self> {
        Ok(store.read(Self::read)?)
    }

    /// The active keys as `db` holds them.
    pub fn read(db: &Db<'_>) -> std::result::Result<Self, StoreError> {
        let all = api_keys::all(db)?;
        let mut active = HashMap::new();
        for (key, key_hash) in all {
            if key.revoked_at.is_none()
                && let Ok(h) = <[u8; 32]>::try_from(key_hash.as_slice())
            {
                active.insert(h, Held::of(key));
            }
        }
        Ok(KeyRing { active })
    }

    fn find(&self, presented: &str) -> Option<&Held> {
        let wanted = token_hash(presented);
        let (stored, key) = self.active.get_key_value(&wanted)?;
        bool::from(stored.ct_eq(&wanted)).then_some(key)
    }
}

/// A new API key: `kp_` and a random token.
fn mint() -> Result<SecretString> {
    let token = random_token()?;
    Ok(SecretString::from(format!(
        "{KEY_PREFIX}{}",
        token.expose_secret()
    )))
}

fn valid_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid("name: must be 1 to 64 printable characters"));
    }
    Ok(name)
}

/// API keys over the shared context and the in-memory ring of active keys.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    ctx: &'a Ctx,
    ring: &'a RwLock<KeyRing>,
}

impl<'a> Keys<'a> {
    pub fn new(ctx: &'a Ctx, ring: &'a RwLock<KeyRing>) -> Self {
        Keys { ctx, ring }
    }

    /// Resolves a presented key to its caller, or `Unauthorized` (unknown, revoked or
    /// expired).
    pub fn authenticate(&self, presented: &str) -> Result<Caller> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        let held = ring.find(presented.trim()).ok_or(Error::Unauthorized)?;
        if !held.live(self.ctx.clock.unix_ms()) {
            return Err(Error::Unauthorized);
        }
        let key = &held.key;
        Ok(Caller {
            key_id: key.id,
            name: key.name.clone(),
            permission: key.permission,
            entity: key.entity.clone(),
            restrictions: Arc::clone(&held.restrictions),
        })
    }

    /// Whether the key `id` still lets its holder in (neither revoked nor expired).
    pub fn is_active(&self, id: ApiKeyId) -> bool {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        let now = self.ctx.clock.unix_ms();
        ring.active.values().any(|k| k.key.id == id && k.live(now))
    }

    fn insert_key(&self, req: CreateKey) -> Result<CreatedKey> {
        let permission = req.permission.unwrap_or(Permission::Use);
        let restrictions = self.restrictions(permission, &req)?;
        let CreateKey { name, entity, .. } = req;
        let name = valid_name(&name)?;
        let key = mint()?;
        let key_hash = token_hash(key.expose_secret());
        let prefix: String = key
            .expose_secret()
            .chars()
            .take(KEY_PREFIX.len() + 6)
            .collect();
        let record = ApiKey {
            id: ApiKeyId::new(),
            name: name.to_string(),
            prefix,
            permission,
            entity,
            restrictions,
            created_at: self.ctx.clock.stamp(),
            revoked_at: None,
        };
        self.ctx.store.write(|tx| {
            api_keys::insert(
                tx,
                &NewApiKey {
                    id: record.id,
                    name: &record.name,
                    key_hash: &key_hash,
                    prefix: &record.prefix,
                    permission,
                    entity: record.entity.as_ref(),
                    restrictions: &record.restrictions,
                    now: &record.created_at,
                },
            )
        })?;
        self.ring
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .active
            .insert(key_hash, Held::of(record.clone()));
        Ok(CreatedKey { key, record })
    }

    pub fn create(&self, caller: &Caller, req: CreateKey) -> Result<CreatedKey> {
        caller.require(Permission::Admin)?;
        self.insert_key(req)
    }

    pub fn list(&self, caller: &Caller) -> Result<Vec<ApiKey>> {
        caller.require(Permission::Admin)?;
        Ok(self
            .ctx
            .store
            .read(api_keys::all)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    pub fn revoke(&self, caller: &Caller, id: ApiKeyId) -> Result<ApiKey> {
        caller.require(Permission::Admin)?;
        if id == caller.key_id {
            return Err(Error::Conflict("an API key cannot revoke itself".into()));
        }
        let now = self.ctx.clock.stamp();
        let found = self.ctx.store.write(|tx| -> Result<Option<ApiKey>> {
            let keys = api_keys::all(tx)?;
            let Some((key, _)) = keys.into_iter().find(|(k, _)| k.id == id) else {
                return Ok(None);
            };
            if key.revoked_at.is_some() {
                return Err(Error::Conflict(format!("API key {id} is already revoked")));
            }
            api_keys::revoke(tx, id, &now)?;
            Ok(Some(ApiKey {
                revoked_at: Some(now.clone()),
                ..key
            }))
        })?;
        let revoked = found.ok_or_else(|| Error::not_found("api key", id.to_string()))?;
        self.ring
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .active
            .retain(|_, k| k.key.id != id);
        Ok(revoked)
    }

    /// The panic button: revokes every key that is not an admin key, at once; returns how
    /// many were revoked. `all` must be true, so that no other body does this by accident.
    pub fn revoke_all(&self, caller: &Caller, all: bool) -> Result<usize> {
        caller.require(Permission::Admin)?;
        if !all {
            return Err(Error::invalid(
                "all: must be true (revoke one key with DELETE /api/v1/keys/{id})",
            ));
        }
        let now = self.ctx.clock.stamp();
        let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        let revoked = self
            .ctx
            .store
            .write(|tx| api_keys::revoke_all_but_admin(tx, &now))?;
        ring.active
            .retain(|_, k| k.key.permission == Permission::Admin);
        tracing::warn!(revoked, "every non-admin API key revoked");
        Ok(revoked)
    }

    /// Makes sure `admin.key` holds an active admin key: returns a new key to write when
    /// `existing` is missing or no longer valid (e.g. the database was replaced).
    pub fn ensure_admin(&self, existing: Option<&str>) -> Result<Option<SecretString>> {
        if let Some(existing) = existing
            && let Ok(caller) = self.authenticate(existing)
            && caller.permission == Permission::Admin
        {
            return Ok(None);
        }
        let created = self.insert_key(CreateKey {
            name: "admin".into(),
            permission: Some(Permission::Admin),
            ..CreateKey::default()
        })?;
        Ok(Some(created.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // Random and distinct as every token is (`ctx::random_token`'s test).
    fn minted_keys_are_prefixed_tokens_debug_never_shows() -> Result<()> {
        let key = mint()?;
        assert!(key.expose_secret().starts_with(KEY_PREFIX));
        assert_eq!(key.expose_secret().len(), KEY_PREFIX.len() + 43);
        assert!(!format!("{key:?}").contains(&key.expose_secret()[3..]));
        Ok(())
    }
}
