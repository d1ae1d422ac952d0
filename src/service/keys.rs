//! API keys: minting, authenticating, listing, revoking. Keys are 256-bit random strings
//! shown once; the database keeps their SHA-256. Authentication hashes the presented key
//! and compares digests in constant time, against an in-memory ring of active keys so the
//! hot path does no I/O.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::caller::Caller;
use super::ctx::{Ctx, random_token, token_hash};
use crate::domain::api_key::{ApiKey, Approval, Permission};
use crate::ids::{ApiKeyId, EntityId};
use crate::service::error::{Error, Result};
use crate::store::{NewApiKey, Store, api_keys};

const KEY_PREFIX: &str = "kp_";

/// A key to mint: its name, what it may do, and the one entity it acts for, if any.
#[derive(Debug)]
pub struct CreateKey {
    pub name: String,
    pub permission: Permission,
    pub entity: Option<EntityId>,
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

/// Active keys by the SHA-256 of their value.
pub struct KeyRing {
    active: HashMap<[u8; 32], ApiKey>,
}

impl KeyRing {
    pub fn load(store: &Store) -> Result<Self> {
        let all = store.read(api_keys::all)?;
        let mut active = HashMap::new();
        for (key, key_hash) in all {
            if key.revoked_at.is_none()
                && let Ok(h) = <[u8; 32]>::try_from(key_hash.as_slice())
            {
                active.insert(h, key);
            }
        }
        Ok(KeyRing { active })
    }

    fn find(&self, presented: &str) -> Option<&ApiKey> {
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

    /// Resolves a presented key to its caller, or `Unauthorized`.
    pub fn authenticate(&self, presented: &str) -> Result<Caller> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        let key = ring.find(presented.trim()).ok_or(Error::Unauthorized)?;
        Ok(Caller {
            key_id: key.id,
            name: key.name.clone(),
            permission: key.permission,
            entity: key.entity.clone(),
            approval: key.approval,
        })
    }

    /// Whether the key `id` still lets its holder in (not revoked).
    pub fn is_active(&self, id: ApiKeyId) -> bool {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        ring.active.values().any(|k| k.id == id)
    }

    fn insert_key(&self, req: CreateKey) -> Result<CreatedKey> {
        let CreateKey {
            name,
            permission,
            entity,
            approval,
        } = req;
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
            approval,
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
                    approval,
                    now: &record.created_at,
                },
            )
        })?;
        self.ring
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .active
            .insert(key_hash, record.clone());
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
            .retain(|_, k| k.id != id);
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
            permission: Permission::Admin,
            entity: None,
            approval: Approval::Never,
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
