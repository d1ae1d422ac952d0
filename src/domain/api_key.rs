//! API keys: who may call keyport's API and with what power. `Use` acts through keyport
//! (connections, proxy, actions) without seeing credentials; `Reveal` may also read a live
//! credential; `Admin` may also manage keys. A key may be restricted to one entity.

use std::str::FromStr;

use crate::ids::{ApiKeyId, EntityId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Use,
    Reveal,
    Admin,
}

super::wire_names!(Permission {
    Use => "use",
    Reveal => "reveal",
    Admin => "admin",
});

impl Permission {
    /// Each level includes the ones below it.
    pub fn allows(self, required: Permission) -> bool {
        self >= required
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Permission::named(s).ok_or_else(|| {
            let other = s.trim().to_ascii_lowercase();
            format!("unknown permission {other:?}; expected use, reveal or admin")
        })
    }
}

/// Whether a key's requests wait for the user's approval: `Writes` holds every request
/// that is not a read (proxy methods other than GET and HEAD, write actions) until the user
/// approves or denies it, or the wait times out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Approval {
    #[default]
    Never,
    Writes,
}

super::wire_names!(Approval, error UnknownApproval("approval") {
    Never => "none",
    Writes => "writes",
});

/// A stored key: its hash, never the key itself.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, shown so a user can tell keys apart.
    pub prefix: String,
    pub permission: Permission,
    pub entity: Option<EntityId>,
    pub approval: Approval,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_nest() {
        assert!(Permission::Admin.allows(Permission::Reveal));
        assert!(Permission::Reveal.allows(Permission::Use));
        assert!(!Permission::Use.allows(Permission::Reveal));
        assert!(!Permission::Reveal.allows(Permission::Admin));
        assert_eq!("REVEAL".parse::<Permission>(), Ok(Permission::Reveal));
        assert_eq!(
            " Root ".parse::<Permission>(),
            Err("unknown permission \"root\"; expected use, reveal or admin".to_string())
        );
    }
}
