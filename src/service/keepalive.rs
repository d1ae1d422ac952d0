//! Keep-alive: OAuth 2.0 grants refreshed before their refresh tokens lapse unused, so a
//! connection nobody used for months still works when an agent next needs it.
//!
//! **When a refresh token lapses** is, in order: when the provider said
//! (`refresh_token_expires_in` in the token response, kept as the connection's
//! `refresh_token_expires_at`); else when it was issued (`issued_at`) plus the app's idle
//! limit from the catalog (`refresh_token_idle_secs`); else plus the configured default
//! (`refresh_token_idle_secs` in the config). None of these: nothing is known to lapse and
//! nothing is refreshed.
//!
//! **The rule** ([`plan`]): a grant is refreshed at half-life, halfway between when its
//! refresh token was issued and when it lapses (at least a second after it was issued); one
//! whose issue time is unknown is refreshed at once, which records it. A refresh that did
//! not move the lapse later (a lifetime counted from the first grant, which refreshing
//! cannot extend) is not repeated until the lapse changes; a failed one is retried no
//! sooner than a minute later, or when the token lifecycle's back-off ends if that is
//! later.
//!
//! **How**: one task on the server's runtime. Each pass reads the candidates in one query
//! (ACTIVE OAuth 2.0 connections holding a refresh token, on enabled integrations that do
//! not use client credentials) and refreshes the due ones one after another on the blocking
//! pool, each through the token lifecycle's single flight (`Tokens::keep_alive`), so a
//! refresh races no use and a refused refresh token turns the connection EXPIRED exactly
//! as at use. Then the task sleeps until the next one is due, at most a minute, or until a
//! connection's status changes (a new or re-enabled one may be due sooner; a burst of
//! changes wakes it once a second at most). No thread or timer per connection.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::Service;
use super::ctx::Ctx;
use super::proxy::blocking;
use super::tokens::Tokens;
use crate::auth::REFRESH_EXPIRES_AT;
use crate::domain::{AuthScheme, Connection};
use crate::ids::ConnectionId;
use crate::providers::SchemeDetails;
use crate::service::error::Result;
use crate::store::keepalive::{Renewable, renewable};

/// The longest the task sleeps between two looks at the store.
const MAX_NAP: Duration = Duration::from_secs(60);
/// The shortest time between two passes when status changes wake the task, so a burst of
/// changes costs one look at the store, not one each.
const MIN_GAP: Duration = Duration::from_secs(1);
/// After a failed keep-alive refresh, that connection waits at least this long (seconds).
const RETRY_AFTER: i64 = 60;

/// What keep-alive runs with (`Config::refresh_token_idle`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAliveSettings {
    /// How long refresh tokens live unused where neither the provider nor the catalog says.
    pub default_idle: Option<Duration>,
}

/// When a refresh token lapses (`None`: unknown, as its issue time is) and when keep-alive
/// refreshes its grant, in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub lapse: Option<i64>,
    pub due: i64,
}

/// The scheduling rule (see the module doc): `issued_at` when the refresh token was issued,
/// `said` when the provider said it lapses, `idle` the app's or the default idle limit.
pub(crate) fn plan(issued_at: Option<i64>, said: Option<i64>, idle: Option<u64>) -> Option<Plan> {
    let idle = idle.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
    let lapse = match (said, issued_at, idle) {
        (Some(at), _, _) => Some(at),
        (None, Some(issued), Some(idle)) => Some(issued.saturating_add(idle)),
        (None, None, Some(_)) => None,
        (None, _, None) => return None,
    };
    let due = match (issued_at, lapse) {
        (Some(issued), Some(lapse)) => issued.saturating_add(((lapse - issued) / 2).max(1)),
        _ => i64::MIN,
    };
    Some(Plan { lapse, due })
}

/// What the task remembers between passes, per connection still a candidate.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Refreshed without moving its lapse later: left alone while the lapse is this one.
    stuck: HashMap<ConnectionId, Option<i64>>,
    /// A keep-alive refresh failed: not tried again before this (Unix seconds).
    retry: HashMap<ConnectionId, i64>,
}

impl Memory {
    fn keep_only(&mut self, candidates: &[Renewable]) {
        if self.stuck.is_empty() && self.retry.is_empty() {
            return;
        }
        let live: std::collections::HashSet<ConnectionId> =
            candidates.iter().map(|c| c.id).collect();
        self.stuck.retain(|id, _| live.contains(id));
        self.retry.retain(|id, _| live.contains(id));
    }
}

/// One pass over the candidates, over the shared context and the token lifecycle.
pub(crate) struct KeepAlive<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
    settings: KeepAliveSettings,
}

fn param(connection: &Connection, key: &str) -> Option<i64> {
    connection.params.get(key).and_then(Value::as_i64)
}

impl<'a> KeepAlive<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>, settings: KeepAliveSettings) -> Self {
        KeepAlive {
            ctx,
            tokens,
            settings,
        }
    }

    /// How long `app_key`'s refresh tokens live unused: the catalog's word, else the default.
    fn idle_secs(&self, app_key: &str) -> Option<u64> {
        let catalog = self
            .ctx
            .catalog
            .get(app_key)
            .and_then(|app| app.scheme(AuthScheme::OAuth2))
            .and_then(|scheme| match &scheme.details {
                SchemeDetails::OAuth2(spec) => spec.refresh_token_idle_secs.map(NonZeroU64::get),
                _ => None,
            });
        catalog.or_else(|| self.settings.default_idle.map(|d| d.as_secs().max(1)))
    }

    fn plan_of(&self, connection: &Connection) -> Option<Plan> {
        plan(
            param(connection, "issued_at"),
            param(connection, REFRESH_EXPIRES_AT),
            self.idle_secs(&connection.app_key),
        )
    }

    /// Refreshes every due grant (until `stop`); the Unix second the next one is due, if
    /// any is known.
    pub fn pass(&self, memory: &mut Memory, stop: &AtomicBool) -> Result<Option<i64>> {
        let candidates = self.ctx.store.read(renewable)?;
        memory.keep_only(&candidates);
        let mut next: Option<i64> = None;
        let mut refreshed = 0usize;
        for candidate in &candidates {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let idle = self.idle_secs(&candidate.app_key);
            let Some(plan) = plan(candidate.issued_at, candidate.refresh_expires_at, idle) else {
                continue;
            };
            if memory.stuck.get(&candidate.id) == Some(&plan.lapse) {
                continue;
            }
            let backoff = self
                .tokens
                .retry_at(candidate.id)
                .map(|ms| (ms + 999) / 1000);
            let at = [
                Some(plan.due),
                memory.retry.get(&candidate.id).copied(),
                backoff,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(plan.due);
            let now = self.ctx.clock.unix();
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            memory.stuck.remove(&candidate.id);
            let again = self.refresh(candidate.id, plan, memory);
            next = again.map_or(next, |a| Some(next.map_or(a, |n| n.min(a))));
            refreshed += 1;
        }
        tracing::debug!(
            candidates = candidates.len(),
            refreshed,
            next_in_s = next.map(|n| n - self.ctx.clock.unix()),
            "keep-alive pass"
        );
        Ok(next)
    }

    /// The connection's plan as it stands now.
    fn current(&self, id: ConnectionId) -> Option<Plan> {
        let loaded = self.ctx.load(id).ok()?;
        self.plan_of(&loaded.connection)
    }

    /// One refresh of a due grant, remembered when it failed, was not possible or did not
    /// help; when the connection is next due, if known.
    fn refresh(&self, id: ConnectionId, before: Plan, memory: &mut Memory) -> Option<i64> {
        let now = self.ctx.clock.unix();
        let still_due = |c: &Connection| self.plan_of(c).is_some_and(|p| p.due <= now);
        match self.tokens.keep_alive(id, still_due) {
            // A use refreshed it meanwhile (due later now), or it may not act after all.
            Ok(false) => match self.current(id).map(|p| p.due) {
                Some(due) if due > now => Some(due),
                _ => {
                    let retry = now.saturating_add(RETRY_AFTER);
                    memory.retry.insert(id, retry);
                    Some(retry)
                }
            },
            Ok(true) => {
                memory.retry.remove(&id);
                let after = self.current(id);
                let lapse = after.and_then(|p| p.lapse);
                tracing::info!(connection = %id, lapses_in_s = lapse.map(|l| l - now), "keep-alive refreshed the grant ahead of its refresh token's lapse");
                if let (Some(old), Some(new)) = (before.lapse, lapse)
                    && new <= old
                {
                    tracing::info!(connection = %id, "refreshing did not extend the refresh token's life; keep-alive leaves it until that changes");
                    memory.stuck.insert(id, lapse);
                    return None;
                }
                after.map(|p| p.due)
            }
            Err(e) => {
                tracing::warn!(connection = %id, error = %e, "keep-alive refresh failed");
                let retry = now.saturating_add(RETRY_AFTER);
                memory.retry.insert(id, retry);
                Some(retry)
            }
        }
    }
}

/// The keep-alive task: passes until `stop` is set or the runtime ends. A pass runs on
/// the blocking pool; between passes the task sleeps until the next refresh is due (at most
/// [`MAX_NAP`]) or a connection's status changes.
pub(crate) async fn run(svc: Arc<Service>, settings: KeepAliveSettings, stop: Arc<AtomicBool>) {
    tracing::info!(
        default_idle_s = settings.default_idle.map(|d| d.as_secs()),
        "keep-alive on: OAuth grants are refreshed at half the life of their refresh tokens"
    );
    let mut changes = svc.status_changes();
    let mut memory = Memory::default();
    while !stop.load(Ordering::Relaxed) {
        let halt = Arc::clone(&stop);
        let outcome = blocking(&svc, move |svc| {
            let next = svc.keep_alive_pass(settings).pass(&mut memory, &halt);
            Ok((memory, next))
        })
        .await;
        let next = match outcome {
            Ok((kept, next)) => {
                memory = kept;
                next.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "keep-alive could not read the connections");
                    None
                })
            }
            Err(_) => return,
        };
        let nap = next.map_or(MAX_NAP, |at| {
            let ms = at.saturating_mul(1000) - svc.clock().unix_ms();
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        tokio::select! {
            () = tokio::time::sleep(nap.min(MAX_NAP)) => {}
            changed = changes.changed() => match changed {
                Ok(()) => tokio::time::sleep(MIN_GAP.min(nap)).await,
                Err(_) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(issued: Option<i64>, said: Option<i64>, idle: Option<u64>) -> Option<i64> {
        plan(issued, said, idle).map(|p| p.due)
    }

    #[test]
    fn grants_are_refreshed_at_half_the_life_of_their_refresh_token() {
        // The provider said: halfway from the issue to the lapse.
        assert_eq!(
            plan(Some(1000), Some(1600), None),
            Some(Plan {
                lapse: Some(1600),
                due: 1300
            })
        );
        // The provider's word beats the catalog's or the default idle limit.
        assert_eq!(due(Some(1000), Some(1600), Some(60)), Some(1300));
        // Else the idle limit counts from the issue: 90 days → refreshed after 45.
        let day: i64 = 86_400;
        assert_eq!(
            plan(Some(0), None, Some(90 * 86_400)),
            Some(Plan {
                lapse: Some(90 * day),
                due: 45 * day
            })
        );
        // A 3-second idle limit: refreshed a second after each issue, never at once.
        assert_eq!(due(Some(1000), None, Some(3)), Some(1001));
        assert_eq!(due(Some(1000), Some(1000), None), Some(1001));
        // Unknown issue time with a limit: at once (which records it).
        assert_eq!(due(None, None, Some(3)), Some(i64::MIN));
        assert_eq!(due(None, Some(5000), None), Some(i64::MIN));
    }

    #[test]
    fn nothing_is_due_when_nothing_is_known_to_lapse() {
        assert_eq!(plan(Some(1000), None, None), None);
        assert_eq!(plan(None, None, None), None);
        // A lapse far away is due far away, not now.
        let year = 365 * 86_400;
        assert_eq!(
            due(Some(1000), None, Some(year as u64)),
            Some(1000 + year / 2)
        );
        assert_eq!(
            due(Some(1000), None, Some(u64::MAX)),
            Some(1000 + (i64::MAX - 1000) / 2)
        );
    }
}
