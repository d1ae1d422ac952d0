//! The one token lifecycle, for every scheme whose access tokens a token endpoint issues
//! and that expire (OAuth 2.0, BASIC_WITH_JWT, GOOGLE_SERVICE_ACCOUNT). The schemes say
//! what token a connection holds and how to get a new one ([`Issuer`]); this file decides
//! when, and keeps the rules in one place:
//!
//! - **Fresh**: a held token is used while more than a minute is left, or half the
//!   lifetime of a short-lived one (so a fresh 30-second token is not renewed at once); a
//!   token without an expiry is used until the provider refuses it.
//! - **Single flight**: one renewal per connection at a time. Callers queue on the
//!   connection's entry in one table (dropped once nobody holds or waits for it) and the
//!   ones behind the first find its token in the store. A caller whose token was refused
//!   (`stale`) renews only if nobody has replaced that token yet. Across the instances
//!   sharing a PostgreSQL database, the one at the front of its queue also holds the
//!   connection's named lock (`Store::hold`) from before it decides, on the row as
//!   stored, until its renewal is committed: one renewal per token lifetime in all.
//! - **Commit before use**: the new token (and a rotated refresh token) is committed in one
//!   transaction before any caller is handed it (RFC 9700 §4.14).
//! - **Dead grant → EXPIRED**: a refused refresh token or login makes the connection
//!   EXPIRED with the reason, and nothing is sent for it again until it is reconnected.
//! - **Back-off**: after any other failure, renewals of that connection wait 5 s, doubling to
//!   5 min, timed by the injected `Clock`; a still-valid token is used meanwhile.
//! - **Keep-alive**: an OAuth grant whose refresh token would lapse unused is renewed ahead
//!   of time by the same flight and the same rules ([`Tokens::keep_alive`]); `keepalive.rs`
//!   decides when.
//!
//! - **Finish before exit**: every exchange (a renewal, a flow's code exchange) counts
//!   itself in [`Exchanges`] until its result is committed; a stopping server refuses new
//!   ones and waits for those under way (bounded), so a rotated refresh token the provider
//!   already issued is never lost to a SIGTERM.
//!
//! One token-endpoint client (small bodies, no redirects) serves renewals, revocation and
//! the browser flows' exchanges.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};

use super::ctx::{Ctx, Loaded, check_may_act, not_usable};
use crate::audit::record::Event;
use crate::auth::{AuthError, Cached, Credentials, Issuer, MAX_TOKEN_RESPONSE, RenewError};
use crate::clock::Deadline;
use crate::domain::{Connection, ConnectionStatus, Integration};
use crate::ids::ConnectionId;
use crate::net::Net;
use crate::secret::{AccessToken, SecretFields};
use crate::service::error::{Error, Result};
use crate::store::{SecretUpdate, StoreError, connections};

/// Renew a held token when less than this is left (or half its lifetime, if shorter).
const RENEW_AHEAD_SECS: i64 = 60;
/// Back-off after a failed renewal: doubles from this, capped below.
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The token-endpoint client, the single-flight table, the back-off table and the count
/// of exchanges under way.
pub(super) struct TokenState {
    net: Net,
    flights: Flights,
    backoff: Mutex<HashMap<ConnectionId, Backoff>>,
    exchanges: Exchanges,
    /// How long a renewal waits for another instance's renewal of the same connection.
    patience: Duration,
}

/// The token exchanges under way, and whether new ones may start.
#[derive(Default)]
pub(super) struct Exchanges {
    /// How many are running; `true` once the server is stopping.
    state: Mutex<(usize, bool)>,
    idle: Condvar,
}

/// One exchange under way, from before its request until its result is committed.
pub(crate) struct Exchange<'a>(&'a Exchanges);

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        state.0 -= 1;
        if state.0 == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Exchanges {
    /// Counts one exchange in, unless the server is stopping.
    fn begin(&self) -> Result<Exchange<'_>> {
        let mut state = lock(&self.state);
        if state.1 {
            return Err(Error::Upstream(
                "keyport is stopping: no new token request is started".into(),
            ));
        }
        state.0 += 1;
        Ok(Exchange(self))
    }

    /// Refuses new exchanges and waits until those under way are committed, at most
    /// `limit`; how many are still running then.
    pub(super) fn finish(&self, limit: Duration) -> usize {
        let deadline = Deadline::after(limit);
        let mut state = lock(&self.state);
        state.1 = true;
        while state.0 > 0 {
            let left = deadline.remaining();
            if left.is_zero() {
                break;
            }
            state = self
                .idle
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.0
    }
}

/// The token lifecycle over the shared context and the token state.
#[derive(Clone, Copy)]
pub(crate) struct Tokens<'a> {
    ctx: &'a Ctx,
    state: &'a TokenState,
}

impl TokenState {
    /// `timeout` bounds each token-endpoint exchange (`Config::token_timeout`).
    pub(super) fn new(timeout: Duration) -> Self {
        TokenState {
            net: Net::new(timeout, MAX_TOKEN_RESPONSE),
            flights: Flights::default(),
            backoff: Mutex::default(),
            exchanges: Exchanges::default(),
            // Its token request, a retry and the commit.
            patience: timeout * 2 + Duration::from_secs(5),
        }
    }

    /// Refuses new token exchanges and waits (at most `limit`) for those under way to
    /// commit; how many are still running then.
    pub(super) fn finish_exchanges(&self, limit: Duration) -> usize {
        self.exchanges.finish(limit)
    }

    /// Seconds left to wait before the next renewal of `id`, if it is backing off.
    fn waiting(&self, id: ConnectionId, now_ms: i64) -> Option<i64> {
        let until = lock(&self.backoff).get(&id)?.until_ms;
        (now_ms < until).then(|| ((until - now_ms) / 1000).max(1))
    }

    fn failed(&self, id: ConnectionId, now_ms: i64) -> Duration {
        let mut backoff = lock(&self.backoff);
        let step = backoff
            .get(&id)
            .map(|b| (b.step * 2).min(BACKOFF_MAX))
            .unwrap_or(BACKOFF_START);
        let until_ms = now_ms.saturating_add(i64::try_from(step.as_millis()).unwrap_or(i64::MAX));
        backoff.insert(id, Backoff { until_ms, step });
        step
    }

    fn forget(&self, id: ConnectionId) {
        lock(&self.backoff).remove(&id);
    }

    /// When `id`'s renewals may be tried again (Unix ms), if it is backing off.
    pub(super) fn retry_at(&self, id: ConnectionId) -> Option<i64> {
        lock(&self.backoff).get(&id).map(|b| b.until_ms)
    }
}

#[derive(Clone, Copy, Debug)]
struct Backoff {
    until_ms: i64,
    step: Duration,
}

/// One lock per connection whose token is being renewed.
#[derive(Default)]
struct Flights(Mutex<HashMap<ConnectionId, Arc<Mutex<()>>>>);

/// A caller's place in a connection's flight; leaving drops the table entry when nobody
/// else holds or waits for it.
struct Flight<'a> {
    table: &'a Flights,
    id: ConnectionId,
    turn: Arc<Mutex<()>>,
}

impl Flights {
    fn join(&self, id: ConnectionId) -> Flight<'_> {
        let turn = lock(&self.0).entry(id).or_default().clone();
        Flight {
            table: self,
            id,
            turn,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.0).len()
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut table = lock(&self.table.0);
        // The table's reference and this one: nobody else is in this flight. Every clone is
        // taken under the table's lock, so the count cannot grow behind this check.
        if Arc::strong_count(&self.turn) == 2 {
            table.remove(&self.id);
        }
    }
}

/// How long before expiry a held token is renewed.
fn margin(held: &Cached) -> i64 {
    let lifetime = match (held.expires_at, held.issued_at) {
        (Some(expires), Some(issued)) => expires - issued,
        _ => 2 * RENEW_AHEAD_SECS,
    };
    RENEW_AHEAD_SECS.min(lifetime / 2)
}

/// The held token, if it needs no renewal yet.
fn fresh(held: &Cached, now: i64) -> Option<&AccessToken> {
    let token = held.access_token.as_ref()?;
    match held.expires_at {
        Some(at) => (at - now > margin(held)).then_some(token),
        None => Some(token),
    }
}

/// The token-issuing side of a connection's credentials.
fn issuer_of(credentials: &Credentials) -> Result<&dyn Issuer> {
    credentials
        .issuer()
        .ok_or_else(|| Error::Internal("not a token-issuing connection".into()))
}

/// The held token, if it has not expired (it may be due for renewal).
fn unexpired(held: &Cached, now: i64) -> Option<&AccessToken> {
    let token = held.access_token.as_ref()?;
    held.expires_at.is_none_or(|at| at > now).then_some(token)
}

impl<'a> Tokens<'a> {
    pub fn new(ctx: &'a Ctx, state: &'a TokenState) -> Self {
        Tokens { ctx, state }
    }

    /// When `id`'s renewals may be tried again (Unix ms), if a failure put it in back-off.
    pub fn retry_at(&self, id: ConnectionId) -> Option<i64> {
        self.state.retry_at(id)
    }

    /// The client for token endpoints (small bodies, no redirects).
    pub fn net(&self) -> &'a Net {
        &self.state.net
    }

    /// Counts a token exchange in until the returned guard is dropped (after its commit),
    /// so a stopping server waits for it; refused once the server is stopping.
    pub fn exchange(&self) -> Result<Exchange<'a>> {
        self.state.exchanges.begin()
    }

    /// A valid access token for a token-issuing connection: the held one while it is
    /// fresh, else one new token shared by every concurrent caller and committed before
    /// any of them gets it. With `stale` (the provider just refused that token), a newer
    /// one than that.
    pub fn access_token(
        &self,
        connection: &Connection,
        issuer: &dyn Issuer,
        stale: Option<&AccessToken>,
    ) -> Result<AccessToken> {
        let now = self.ctx.clock.unix();
        if stale.is_none()
            && let Some(token) = fresh(issuer.cached(), now)
        {
            return Ok(token.clone());
        }
        // A caller that waited here while another renewed sees a different token than the
        // one it started with, and takes that one.
        let seen = stale.or(issuer.cached().access_token.as_ref()).cloned();
        // Renewing waits on the connection's turn and on the token endpoint.
        crate::inline::check().map_err(StoreError::from)?;
        let flight = self.state.flights.join(connection.id);
        let _turn = lock(&flight.turn);
        // A caller ahead in this process may have renewed: its commit is in the cache.
        let loaded = self.ctx.load(connection.id)?;
        if let Some(token) = self.settled(&loaded, seen.as_ref(), stale.is_some(), now)? {
            return Ok(token);
        }
        // Then, one renewal at a time across every instance on the database, deciding
        // again on the row as stored: another instance may have just renewed.
        let _held = self.hold(connection.id)?;
        let loaded = self.ctx.load_stored(connection.id)?;
        if let Some(token) = self.settled(&loaded, seen.as_ref(), stale.is_some(), now)? {
            return Ok(token);
        }
        let credentials = self.ctx.open(&loaded)?;
        let issuer = issuer_of(&credentials)?;
        let fallback = unexpired(issuer.cached(), now).filter(|_| stale.is_none());
        self.renew(&loaded.connection, issuer, fallback, now)
    }

    /// The token to use without renewing, if `loaded` holds one: one that replaced `seen`
    /// (another caller renewed), or a fresh one unless the caller's was refused (`stale`).
    fn settled(
        &self,
        loaded: &Loaded,
        seen: Option<&AccessToken>,
        stale: bool,
        now: i64,
    ) -> Result<Option<AccessToken>> {
        if !loaded.connection.status.usable() {
            return Err(not_usable(&loaded.connection));
        }
        let credentials = self.ctx.open(loaded)?;
        let held = issuer_of(&credentials)?.cached();
        let Some(token) = &held.access_token else {
            return Ok(None);
        };
        let replaced = seen.is_none_or(|s| !token.is(s.expose_secret()));
        Ok((replaced || (!stale && fresh(held, now).is_some())).then(|| token.clone()))
    }

    /// Holds `id`'s renewal lock across the instances sharing the database.
    fn hold(&self, id: ConnectionId) -> Result<crate::store::Held<'a>> {
        self.ctx
            .store
            .hold(&format!("renew:{id}"), self.state.patience)
            .map_err(|e| match e {
                StoreError::Busy(why) => Error::Upstream(format!(
                    "another keyport instance is renewing this token: {why}"
                )),
                e => e.into(),
            })
    }

    /// A keep-alive refresh of `id`'s grant, taken in the connection's flight like any
    /// renewal, when — as it stands once its turn comes — it may act, renews with a refresh
    /// token, and `still_due` approves it (a use may have just refreshed it). `Ok(false)`:
    /// nothing to do. A refused refresh token makes it EXPIRED as at use.
    pub fn keep_alive(
        &self,
        id: ConnectionId,
        still_due: impl FnOnce(&Connection) -> bool,
    ) -> Result<bool> {
        let flight = self.state.flights.join(id);
        let _turn = lock(&flight.turn);
        let _held = self.hold(id)?;
        let loaded = self.ctx.load_stored(id)?;
        if check_may_act(&loaded.connection, &loaded.integration).is_err()
            || !still_due(&loaded.connection)
        {
            return Ok(false);
        }
        let credentials = self.ctx.open(&loaded)?;
        let Credentials::OAuth2(oauth2) = &credentials else {
            return Ok(false);
        };
        if !oauth2.refreshes_with_token() {
            return Ok(false);
        }
        let now = self.ctx.clock.unix();
        self.renew(&loaded.connection, oauth2, None, now)?;
        Ok(true)
    }

    /// One renewal, inside the connection's flight. `fallback` is a still-valid token a
    /// caller may be given when the renewal fails for a reason worth retrying.
    fn renew(
        &self,
        connection: &Connection,
        issuer: &dyn Issuer,
        fallback: Option<&AccessToken>,
        now: i64,
    ) -> Result<AccessToken> {
        let id = connection.id;
        if let Some(wait) = self.state.waiting(id, self.ctx.clock.unix_ms()) {
            return fallback.cloned().ok_or_else(|| {
                Error::Upstream(format!(
                    "refreshing the token failed recently; keyport retries in {wait} s"
                ))
            });
        }
        let _exchange = match self.exchange() {
            Ok(exchange) => exchange,
            Err(stopping) => return fallback.cloned().ok_or(stopping),
        };
        let failure = match issuer.renew(&self.state.net, now) {
            Ok(renewed) => {
                self.commit(
                    id,
                    |current| match current.status.usable() {
                        true => Ok(()),
                        false => Err(not_usable(current)),
                    },
                    |params, sealed| renewed.store(params, sealed),
                )?;
                self.state.forget(id);
                return Ok(renewed.access_token);
            }
            Err(failure) => failure,
        };
        match failure {
            RenewError::Dead(reason) => Err(self.expire(id, &reason)?),
            RenewError::Exhausted(reason) => match fallback {
                Some(token) => Ok(token.clone()),
                None => Err(self.expire(id, &reason)?),
            },
            RenewError::Unusable(e) => Err(e.into()),
            RenewError::Refused(e) => {
                self.back_off(id, &e.to_string());
                Err(Error::Upstream(format!("refreshing the token failed: {e}")))
            }
            RenewError::Transient(e) => {
                self.back_off(id, &e.to_string());
                match (fallback, e) {
                    (Some(token), _) => Ok(token.clone()),
                    (None, AuthError::Timeout) => Err(Error::UpstreamTimeout),
                    (None, e) => Err(Error::Upstream(format!("refreshing the token failed: {e}"))),
                }
            }
        }
    }

    fn back_off(&self, id: ConnectionId, error: &str) {
        let step = self.state.failed(id, self.ctx.clock.unix_ms());
        tracing::warn!(connection = %id, error, backoff_s = step.as_secs(), "token renewal failed");
    }

    /// The grant is dead: the connection becomes EXPIRED with `reason`; the error to give.
    fn expire(&self, id: ConnectionId, reason: &str) -> Result<Error> {
        self.ctx
            .transition(id, ConnectionStatus::Expired, Some(reason))?;
        self.state.forget(id);
        Ok(Error::Conflict(format!(
            "connected account {id} is EXPIRED ({reason}); reconnect it"
        )))
    }

    /// Writes new credential material in one transaction, after `guard` approved the
    /// connection as it is now: `edit` changes its parameters and sealed fields, and the
    /// connection is ACTIVE afterwards.
    pub fn commit(
        &self,
        id: ConnectionId,
        guard: impl FnOnce(&Connection) -> Result<()>,
        edit: impl FnOnce(&mut Map<String, Value>, &mut SecretFields),
    ) -> Result<()> {
        self.commit_noted(id, guard, None, edit)
    }

    /// [`Tokens::commit`], with `note` as the ACTIVE connection's status reason: what the
    /// user should know about the credential now (none clears it).
    pub fn commit_noted(
        &self,
        id: ConnectionId,
        guard: impl FnOnce(&Connection) -> Result<()>,
        note: Option<&str>,
        edit: impl FnOnce(&mut Map<String, Value>, &mut SecretFields),
    ) -> Result<()> {
        let now = self.ctx.clock.stamp();
        let row = id.to_string();
        let before = self.ctx.store.write(|tx| {
            let current = connections::get(tx, id)?
                .ok_or_else(|| Error::not_found("connected account", row.clone()))?;
            guard(&current)?;
            let blob = connections::secrets(tx, id)?;
            let mut sealed = self.ctx.open_fields("connections", &row, blob.as_deref())?;
            let mut params = current.params.clone();
            edit(&mut params, &mut sealed);
            let blob = self.ctx.seal_fields("connections", &row, &sealed)?;
            connections::update_secrets(
                tx,
                id,
                &SecretUpdate {
                    status: ConnectionStatus::Active,
                    status_reason: note,
                    params: &params,
                    secret_keys: &sealed.keys(),
                    secrets: blob.as_deref(),
                    now: &now,
                },
            )?;
            Ok::<_, Error>(current)
        })?;
        if before.status == ConnectionStatus::Active {
            self.ctx
                .audit_tokens(&before, Event::ConnectionRefreshed, "ok");
        }
        self.ctx.transitioned(
            (&before).into(),
            Some(before.status),
            ConnectionStatus::Active,
            note,
        );
        Ok(())
    }

    /// Makes a token-issuing connection's token valid now (for a reveal); `true` when the
    /// connection is of such a scheme, so its stored material may have changed.
    pub fn for_reveal(&self, loaded: &Loaded) -> Result<bool> {
        // A static credential has nothing to renew: nothing to open for it here.
        if !crate::auth::traits(loaded.integration.auth_scheme).issues_tokens {
            return Ok(false);
        }
        let credentials = self.ctx.open(loaded)?;
        let Some(issuer) = credentials.issuer() else {
            return Ok(false);
        };
        self.access_token(&loaded.connection, issuer, None)?;
        Ok(true)
    }

    /// Best-effort RFC 7009 revocation before a delete; the delete happens regardless.
    pub fn revoke(&self, connection: &Connection, integration: &Integration) {
        let loaded = match self.ctx.load(connection.id) {
            Ok(loaded) if loaded.integration.id == integration.id => loaded,
            _ => return,
        };
        let Ok(credentials) = self.ctx.open(&loaded) else {
            return;
        };
        let Some(outcome) = credentials
            .issuer()
            .and_then(|issuer| issuer.revoke(&self.state.net))
        else {
            return;
        };
        match outcome {
            Ok(()) => {
                tracing::info!(connection = %connection.id, "tokens revoked at the provider");
                self.ctx
                    .audit_tokens(connection, Event::ConnectionRevoked, "ok");
            }
            Err(e) => {
                tracing::warn!(connection = %connection.id, error = %e, "revocation at the provider failed; deleted locally anyway");
                self.ctx.audit_tokens(
                    connection,
                    Event::ConnectionRevoked,
                    &format!("failed: {}", e.code()),
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
