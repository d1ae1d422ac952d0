//! API keys: who may call keyport's API and with what power, and what a key is further
//! restricted to.
//!
//! The permissions form a lattice, not a line: `use` acts through keyport (proxy, actions,
//! MCP tools, connection metadata, and starting a browser connect flow the user completes);
//! `manage` is `use` plus every lifecycle change of its entity's connections; `reveal` is
//! `use` plus reading live credentials; `admin` is everything (keys, integrations). `manage`
//! and `reveal` do not include each other.

use std::str::FromStr;

use crate::ids::{ApiKeyId, EntityId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    Use,
    Manage,
    Reveal,
    Admin,
}

super::wire_names!(Permission {
    Use => "use",
    Manage => "manage",
    Reveal => "reveal",
    Admin => "admin",
});

impl Permission {
    /// Whether a key with this permission may do what `required` allows: its own level,
    /// `use` (below every level), or anything for `admin`.
    pub fn allows(self, required: Permission) -> bool {
        self == required || self == Permission::Admin || required == Permission::Use
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Permission::named(s).ok_or_else(|| {
            let other = s.trim().to_ascii_lowercase();
            format!("unknown permission {other:?}; expected use, manage, reveal or admin")
        })
    }
}

/// An HTTP method a key may send through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProxyMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

super::wire_names!(ProxyMethod, error UnknownMethod("method") {
    Get => "GET",
    Head => "HEAD",
    Post => "POST",
    Put => "PUT",
    Patch => "PATCH",
    Delete => "DELETE",
});

impl ProxyMethod {
    /// The method of an outgoing request, if a key may be allowed it at all.
    pub fn of(method: &http::Method) -> Option<ProxyMethod> {
        ProxyMethod::named(method.as_str())
    }

    /// GET and HEAD only read.
    pub fn writes(self) -> bool {
        !matches!(self, ProxyMethod::Get | ProxyMethod::Head)
    }
}

/// Whether a named action only reads the app's data or changes it (declared in its file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
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

/// What a key is limited to beyond its permission; `None` means unlimited. Set when the
/// key is minted and never changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restrictions {
    /// After this instant (a UTC stamp, `clock::format_stamp`) the key answers 401.
    pub expires_at: Option<String>,
    /// App keys (lower-case) the key may act on.
    pub apps: Option<Vec<String>>,
    /// Named actions (upper-case) the key may run. Without `methods`, such a key cannot
    /// use the raw proxy.
    pub actions: Option<Vec<String>>,
    /// Methods the raw proxy may send; write actions need their own method here, read
    /// actions run under any.
    pub methods: Option<Vec<ProxyMethod>>,
    /// Whether its writes wait for the user's approval.
    pub approval: Approval,
}

impl Restrictions {
    pub fn is_empty(&self) -> bool {
        *self == Restrictions::default()
    }
}

/// A stored key: its hash, never the key itself.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, shown so a user can tell keys apart.
    pub prefix: String,
    pub permission: Permission,
    pub entity: Option<EntityId>,
    pub restrictions: Restrictions,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_form_a_lattice() {
        use Permission::*;
        let allowed = |p: Permission| -> Vec<Permission> {
            Permission::ALL
                .into_iter()
                .filter(|r| p.allows(*r))
                .collect()
        };
        assert_eq!(allowed(Use), [Use]);
        assert_eq!(allowed(Manage), [Use, Manage]);
        assert_eq!(allowed(Reveal), [Use, Reveal]);
        assert_eq!(allowed(Admin), [Use, Manage, Reveal, Admin]);
        assert_eq!("REVEAL".parse::<Permission>(), Ok(Reveal));
        assert_eq!("manage".parse::<Permission>(), Ok(Manage));
        assert_eq!(
            " Root ".parse::<Permission>(),
            Err("unknown permission \"root\"; expected use, manage, reveal or admin".to_string())
        );
    }

    #[test]
    fn methods_parse_and_say_whether_they_write() {
        assert_eq!("get".parse::<ProxyMethod>(), Ok(ProxyMethod::Get));
        assert!(!ProxyMethod::Head.writes());
        assert!(ProxyMethod::Delete.writes());
        assert_eq!(ProxyMethod::of(&http::Method::OPTIONS), None);
        assert!(
            "BREW"
                .parse::<ProxyMethod>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("GET, HEAD, POST, PUT, PATCH, DELETE")
        );
    }
}
