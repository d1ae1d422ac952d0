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

/// What a caller is about to do through a connection to an app.
#[derive(Clone, Copy, Debug)]
pub enum Act<'a> {
    /// A raw proxied request with this method.
    Request(&'a http::Method),
    /// A named action, sending `method`.
    Action {
        name: &'a str,
        method: &'a http::Method,
        access: Access,
    },
    /// Reading the live credential (a `reveal` key's request material).
    Reveal,
    /// Starting a browser flow the user completes (a connect link): nothing reaches the app.
    Connect,
}

/// Which of a key's restrictions refused a request; each has its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    Apps,
    Actions,
    Methods,
}

impl Restriction {
    pub fn code(self) -> &'static str {
        match self {
            Restriction::Apps => "restricted_app",
            Restriction::Actions => "restricted_action",
            Restriction::Methods => "restricted_method",
        }
    }
}

fn listed<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Restrictions {
    /// Which restriction, if any, refuses `act` through a connection to `app`, and why in a
    /// sentence: the one rule, for the service (which refuses) and for the MCP tool list
    /// (which leaves out what would be refused).
    pub fn refusal(&self, app: &str, act: Act<'_>) -> Option<(Restriction, String)> {
        let r = self;
        if let Some(apps) = &r.apps
            && !apps.iter().any(|a| a.eq_ignore_ascii_case(app))
        {
            return Some((
                Restriction::Apps,
                format!(
                    "this API key's allowedApps ({}) do not include {app}",
                    listed(apps)
                ),
            ));
        }
        let method_allowed = |method: &http::Method| match &r.methods {
            None => true,
            Some(methods) => ProxyMethod::of(method).is_some_and(|m| methods.contains(&m)),
        };
        let methods = || listed(r.methods.as_deref().unwrap_or_default());
        match act {
            Act::Connect | Act::Reveal => None,
            Act::Request(_) if r.actions.is_some() && r.methods.is_none() => Some((
                Restriction::Actions,
                format!(
                    "this API key may run only its allowedActions ({}); it has no allowedMethods for the proxy",
                    listed(r.actions.as_deref().unwrap_or_default())
                ),
            )),
            Act::Request(method) if !method_allowed(method) => Some((
                Restriction::Methods,
                format!(
                    "this API key's allowedMethods ({}) do not include {method}",
                    methods()
                ),
            )),
            Act::Request(_) => None,
            Act::Action { name, .. }
                if r.actions
                    .as_ref()
                    .is_some_and(|a| !a.iter().any(|n| n.eq_ignore_ascii_case(name))) =>
            {
                Some((
                    Restriction::Actions,
                    format!(
                        "this API key's allowedActions ({}) do not include {name}",
                        listed(r.actions.as_deref().unwrap_or_default())
                    ),
                ))
            }
            Act::Action {
                name,
                method,
                access: Access::Write,
            } if !method_allowed(method) => Some((
                Restriction::Methods,
                format!(
                    "{name} writes ({method}), and this API key's allowedMethods ({}) do not include {method}",
                    methods()
                ),
            )),
            Act::Action { .. } => None,
        }
    }

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
