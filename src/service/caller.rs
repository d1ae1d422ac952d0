//! The authenticated caller of one request — which API key, its permission and, for an
//! entity-restricted key, the one entity it may act for — and the checks every service
//! call makes against it before doing anything.

use crate::domain::api_key::{Approval, Permission};
use crate::ids::{ApiKeyId, EntityId};
use crate::service::error::{Error, Result};

/// The authenticated caller of one request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: ApiKeyId,
    pub name: String,
    pub permission: Permission,
    pub entity: Option<EntityId>,
    /// Whether this key's writes wait for the user.
    pub approval: Approval,
}

impl Caller {
    pub fn require(&self, needed: Permission) -> Result<()> {
        if self.permission.allows(needed) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this API key has the {} permission; this needs {}",
                self.permission, needed
            )))
        }
    }

    /// Refuses an entity-restricted key acting for another entity.
    pub fn may_act_for(&self, entity: &EntityId) -> Result<()> {
        match &self.entity {
            Some(own) if own != entity => Err(Error::Forbidden(format!(
                "this API key is restricted to entity {:?}",
                own.as_str()
            ))),
            _ => Ok(()),
        }
    }

    /// Keys restricted to one entity may not change shared configuration.
    pub fn require_unrestricted(&self) -> Result<()> {
        match &self.entity {
            Some(own) => Err(Error::Forbidden(format!(
                "this API key is restricted to entity {:?} and cannot change integrations",
                own.as_str()
            ))),
            None => Ok(()),
        }
    }
}
