//! What a new key may be restricted to, checked before it is minted: an expiry in the
//! future, known apps and actions, no empty lists, and only an expiry on an admin key.
//! What the API document can say (bounds, non-empty lists, method names) is a 400; an
//! unknown app or action is a 404 and a contradiction a 409, like the rest of the API.

use super::{CreateKey, Keys};
use crate::domain::api_key::{Permission, Restrictions};
use crate::service::error::{Error, Result};

/// The longest `expiresIn`: ten years.
const MAX_LIFETIME_SECS: i64 = 10 * 366 * 24 * 3600;

impl Keys<'_> {
    /// The restrictions a new key asks for, checked: an expiry in the future, known apps
    /// and actions (each action of an allowed app), no empty lists, and none but the
    /// expiry on an admin key (which could mint itself an unrestricted one).
    pub(super) fn restrictions(
        &self,
        permission: Permission,
        req: &CreateKey,
    ) -> Result<Restrictions> {
        let now = self.ctx.clock.now();
        let expires_in = req
            .expires_in
            .map(|secs| {
                i64::try_from(secs)
                    .ok()
                    .filter(|s| (1..=MAX_LIFETIME_SECS).contains(s))
                    .map(|s| now + time::Duration::seconds(s))
                    .ok_or_else(|| {
                        Error::invalid(format!("expiresIn: 1 to {MAX_LIFETIME_SECS} seconds"))
                    })
            })
            .transpose()?;
        // Both given: the earlier wins.
        let expires_at = expires_in.into_iter().chain(req.expires_at).min();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(Error::Conflict(
                "expiresAt: this instant has passed; a key must expire in the future".into(),
            ));
        }
        let nonempty = |field: &str, list: &Option<Vec<String>>| match list {
            Some(l) if l.is_empty() => Err(Error::invalid(format!(
                "{field}: an empty list would allow nothing; leave it out for no restriction"
            ))),
            _ => Ok(()),
        };
        nonempty("allowedApps", &req.apps)?;
        nonempty("allowedActions", &req.actions)?;
        if req.methods.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid(
                "allowedMethods: an empty list would allow nothing; leave it out for no restriction",
            ));
        }
        let limited = req.apps.is_some() || req.actions.is_some() || req.methods.is_some();
        if permission == Permission::Admin && limited {
            return Err(Error::Conflict(
                "permission: an admin key cannot be limited to apps, actions or methods (it could mint itself an unlimited key); give those to a use, manage or reveal key".into(),
            ));
        }
        let apps = req
            .apps
            .as_ref()
            .map(|apps| self.known_apps(apps))
            .transpose()?;
        let actions = req
            .actions
            .as_ref()
            .map(|names| self.known_actions(names, apps.as_deref()))
            .transpose()?;
        let mut methods = req.methods.clone();
        if let Some(m) = methods.as_mut() {
            m.sort();
            m.dedup();
        }
        Ok(Restrictions {
            expires_at: expires_at.map(crate::clock::format_stamp),
            apps,
            actions,
            methods,
            approval: req.approval,
        })
    }

    /// Catalog keys of `apps`, each known, without repeats.
    fn known_apps(&self, apps: &[String]) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for app in apps {
            let key = self
                .ctx
                .find_app(app)
                .map_err(|_| Error::not_found("app (allowedApps)", app.as_str()))?
                .key
                .clone();
            if !out.contains(&key) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Names of `actions`, each a known action of one of `apps` (when limited).
    fn known_actions(&self, actions: &[String], apps: Option<&[String]>) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for name in actions {
            let action = self
                .ctx
                .actions
                .get(name)
                .ok_or_else(|| Error::not_found("action (allowedActions)", name.as_str()))?;
            if let Some(apps) = apps
                && !apps.contains(&action.app)
            {
                return Err(Error::Conflict(format!(
                    "allowedActions: {} is a {} action, and allowedApps leaves {} out",
                    action.name(),
                    action.app,
                    action.app
                )));
            }
            if !out.iter().any(|n| n == action.name()) {
                out.push(action.name().to_string());
            }
        }
        Ok(out)
    }
}
