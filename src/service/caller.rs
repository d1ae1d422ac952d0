//! The authenticated caller of one request — which API key, its permission, the one
//! entity an entity-restricted key may act for, and the key's restrictions — and the
//! checks every service call makes against it before doing anything. [`Caller::may`] is
//! the one place a key's restrictions are enforced: the proxy, named actions (v2, v3 tools,
//! MCP tools, which all reach the service's `Access::prepare`) and connect links call it
//! before any credential is opened, so a refused request reaches no provider.

use std::sync::Arc;

pub use crate::domain::api_key::Act;
use crate::domain::api_key::{Permission, Restrictions};
use crate::ids::{ApiKeyId, EntityId};
use crate::service::error::{Error, Restriction, Result};

/// The authenticated caller of one request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: ApiKeyId,
    pub name: String,
    pub permission: Permission,
    pub entity: Option<EntityId>,
    pub restrictions: Arc<Restrictions>,
}

fn restricted(restriction: Restriction, message: String) -> Error {
    Error::Restricted {
        restriction,
        message,
    }
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

    /// Every lifecycle change of a connection (create with a credential, enable, disable,
    /// edit, reconnect, test, delete) needs `manage` (or `admin`).
    pub fn may_change_connections(&self) -> Result<()> {
        self.require(Permission::Manage).map_err(|_| {
            Error::Forbidden(format!(
                "this API key has the {} permission; changing connections needs manage or admin",
                self.permission
            ))
        })
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

    /// Whether the key's restrictions let it do `act` through a connection to `app`; the
    /// error names the restriction that refused it (the rule: `Restrictions::refusal`).
    pub fn may(&self, app: &str, act: Act<'_>) -> Result<()> {
        match self.restrictions.refusal(app, act) {
            None => Ok(()),
            Some((restriction, message)) => Err(restricted(restriction, message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_key::{Access, ProxyMethod};

    fn caller(restrictions: Restrictions) -> Caller {
        Caller {
            key_id: ApiKeyId::new(),
            name: "agent".into(),
            permission: Permission::Use,
            entity: None,
            restrictions: Arc::new(restrictions),
        }
    }

    fn code(result: Result<()>) -> &'static str {
        result.err().map_or("ok", |e| e.code())
    }

    #[test]
    fn restrictions_refuse_with_the_restriction_named() {
        let get = http::Method::GET;
        let post = http::Method::POST;
        let read = |name| Act::Action {
            name,
            method: &post,
            access: Access::Read,
        };
        let write = |name| Act::Action {
            name,
            method: &post,
            access: Access::Write,
        };
        let none = caller(Restrictions::default());
        for act in [Act::Request(&post), read("X"), write("X"), Act::Connect] {
            assert_eq!(code(none.may("github", act)), "ok");
        }
        let read_only = caller(Restrictions {
            apps: Some(vec!["github".into()]),
            methods: Some(vec![ProxyMethod::Get, ProxyMethod::Head]),
            ..Restrictions::default()
        });
        assert_eq!(code(read_only.may("GitHub", Act::Request(&get))), "ok");
        assert_eq!(
            code(read_only.may("slack", Act::Request(&get))),
            "restricted_app"
        );
        assert_eq!(code(read_only.may("slack", Act::Connect)), "restricted_app");
        assert_eq!(
            code(read_only.may("github", Act::Request(&post))),
            "restricted_method"
        );
        assert_eq!(code(read_only.may("github", read("NOTION_SEARCH"))), "ok");
        assert_eq!(
            code(read_only.may("github", write("X"))),
            "restricted_method"
        );
        let one_action = caller(Restrictions {
            actions: Some(vec!["GITHUB_GET_THE_AUTHENTICATED_USER".into()]),
            ..Restrictions::default()
        });
        let own = read("github_get_the_authenticated_user");
        assert_eq!(code(one_action.may("github", own)), "ok");
        assert_eq!(
            code(one_action.may("github", write("GITHUB_CREATE_AN_ISSUE"))),
            "restricted_action"
        );
        assert_eq!(
            code(one_action.may("github", Act::Request(&get))),
            "restricted_action"
        );
        let message = one_action
            .may("github", Act::Request(&get))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("allowedActions (GITHUB_GET_THE_AUTHENTICATED_USER)"),
            "{message}"
        );
    }
}
