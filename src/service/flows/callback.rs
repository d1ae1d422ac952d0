//! The loopback callback: the provider's answer to a browser flow. Every check happens
//! before any token request — the echoed state (or OAuth 1.0a `oauth_token`) must name a
//! pending flow, once; the flow must not have expired; the answer must arrive at the
//! callback path of the flow's own app and name the expected issuer (RFC 9207 mix-up
//! defence) — and only then is the code (or verifier) exchanged and the tokens committed.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{FLOWS, Flows};
use crate::auth::oauth1::{self, OAuth1, TemporaryCredentials};
use crate::auth::{Credentials, Renewed};
use crate::domain::{Connection, ConnectionStatus};
use crate::ids::ConnectionId;
use crate::secret::SecretFields;
use crate::service::checks::Checks;
use crate::service::ctx::token_hash;
use crate::service::error::{Error, Result};
use crate::store::flows;

/// What the callback page shows.
#[derive(Debug)]
pub struct CallbackOutcome {
    pub success: bool,
    pub title: String,
    pub message: String,
    /// Send the browser here instead of showing the page.
    pub redirect: Option<String>,
}

impl CallbackOutcome {
    pub(super) fn failed(title: &str, message: impl Into<String>) -> Self {
        CallbackOutcome {
            success: false,
            title: title.into(),
            message: message.into(),
            redirect: None,
        }
    }
}

/// The query a provider sends to the callback. `Debug` leaves out the code and the state
/// (either lets its holder finish the flow).
#[derive(Default)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// OAuth 1.0a: the temporary token and the verifier.
    pub oauth_token: Option<String>,
    pub oauth_verifier: Option<String>,
    /// OAuth 1.0a providers that say no this way (X/Twitter).
    pub denied: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

fn refused(message: &str) -> CallbackOutcome {
    CallbackOutcome::failed("Connection failed", message)
}

/// The provider's own refusal (`error`, `error_description`), printable and bounded.
fn provider_refusal(query: &CallbackQuery) -> Option<String> {
    if query.denied.is_some() {
        return Some("The provider refused: the user denied access".into());
    }
    let error = query.error.as_ref()?;
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let description: String = query
        .error_description
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Some(if description.is_empty() {
        format!("The provider refused: {code}")
    } else {
        format!("The provider refused: {code} ({description})")
    })
}

impl Flows<'_> {
    /// Completes (or fails) a browser flow. Every check happens before the token request.
    pub fn callback(&self, app_key: &str, query: CallbackQuery) -> CallbackOutcome {
        let flow = match self.claim_flow(&query) {
            Ok(flow) => flow,
            Err(outcome) => return outcome,
        };
        let id = flow.connection_id;
        let completed = match self.refusal(app_key, &query, &flow) {
            Some(reason) => Err(reason),
            None => self
                .complete(&flow, &query)
                .map_err(|refusal| match refusal {
                    Refusal::Query(reason) => reason.to_string(),
                    Refusal::Exchange(e) => format!("The token exchange failed: {e}"),
                }),
        };
        // The caller's redirect hears either way: `status=success`, or `status=failed` and
        // why (at most 200 characters).
        let back = |status: &str, reason: Option<&str>| {
            flow.redirect_after.as_deref().map(|url| {
                let mut target = url::Url::parse(url).ok()?;
                target
                    .query_pairs_mut()
                    .append_pair("status", status)
                    .append_pair("connectedAccountId", &id.to_string());
                if let Some(reason) = reason {
                    let short: String = reason.chars().take(200).collect();
                    target.query_pairs_mut().append_pair("reason", &short);
                }
                Some(target.to_string())
            })
        };
        match completed {
            Ok(note) => {
                let checks = Checks::new(self.ctx, self.tokens);
                checks.look_up(id);
                checks.identify(id);
                self.ctx.notify_change();
                CallbackOutcome {
                    success: true,
                    title: "Connected".into(),
                    message: note.unwrap_or_default(),
                    redirect: back("success", None).flatten(),
                }
            }
            Err(reason) => {
                let redirect = back("failed", Some(&reason)).flatten();
                CallbackOutcome {
                    redirect,
                    ..self.fail_flow(id, reason)
                }
            }
        }
    }

    /// The pending flow the answer's echoed value names, marked used; nothing is changed
    /// when it names none.
    fn claim_flow(
        &self,
        query: &CallbackQuery,
    ) -> std::result::Result<flows::Flow, CallbackOutcome> {
        // OAuth 2.0 echoes `state`; OAuth 1.0a echoes the temporary `oauth_token`.
        let echoed = query.state.as_deref().or(query.oauth_token.as_deref());
        let Some(state) = echoed.filter(|s| !s.is_empty()) else {
            return Err(refused(
                "The provider's answer carries no state; nothing was changed.",
            ));
        };
        let flow = match self
            .ctx
            .store
            .read(|db| flows::by_state(db, &token_hash(state)))
        {
            Ok(Some(flow)) => flow,
            Ok(None) => {
                return Err(refused(
                    "Unknown or expired authorization (state does not match any pending connection).",
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "flow lookup failed");
                return Err(refused("keyport could not read its pending connections."));
            }
        };
        if flow.used {
            return Err(refused("This authorization was already used."));
        }
        let now = self.ctx.clock.stamp();
        match self
            .ctx
            .store
            .write(|tx| flows::mark_used(tx, flow.connection_id, &now))
        {
            Ok(true) => Ok(flow),
            Ok(false) => Err(refused("This authorization was already used.")),
            Err(e) => {
                tracing::error!(error = %e, "could not close the flow");
                Err(refused("keyport could not record the authorization."))
            }
        }
    }

    /// Why a claimed flow's answer is refused before any token request, if it is.
    fn refusal(&self, app_key: &str, query: &CallbackQuery, flow: &flows::Flow) -> Option<String> {
        if flow.expires_at < self.ctx.clock.unix() {
            return Some(
                "The authorization took longer than 10 minutes; start the connection again.".into(),
            );
        }
        if !flow.app_key.eq_ignore_ascii_case(app_key) {
            return Some(format!(
                "The answer arrived at the callback of {app_key}, not {}; refused.",
                flow.app_key
            ));
        }
        if let Some(reason) = provider_refusal(query) {
            return Some(reason);
        }
        match (&query.iss, &flow.expected_issuer) {
            (Some(iss), Some(expected))
                if iss.trim_end_matches('/') != expected.trim_end_matches('/') =>
            {
                Some(
                    "The answer names another authorization server (iss mismatch); refused.".into(),
                )
            }
            _ => None,
        }
    }

    /// A failed flow: a new connection turns FAILED with the reason; a reconnect leaves its
    /// connection as it was (its old credentials, if any, still in place).
    fn fail_flow(&self, id: ConnectionId, reason: String) -> CallbackOutcome {
        let connecting = self
            .ctx
            .load(id)
            .is_ok_and(|l| l.connection.status == ConnectionStatus::Initiated);
        if !connecting {
            tracing::info!(connection = %id, reason = %reason, "reconnect failed; the connection is left as it was");
            return refused(&reason);
        }
        if let Err(e) = self
            .ctx
            .transition(id, ConnectionStatus::Failed, Some(&reason))
        {
            tracing::warn!(connection = %id, error = %e, "could not mark the connection FAILED");
        }
        refused(&reason)
    }

    /// The exchange: the code (OAuth 2.0, with the flow's PKCE verifier) or the verifier
    /// (OAuth 1.0a, with the temporary credentials) for tokens, committed with the
    /// connection turning ACTIVE.
    fn complete(&self, flow: &flows::Flow, query: &CallbackQuery) -> Completion {
        let id = flow.connection_id;
        let loaded = self.ctx.load(id)?;
        let reconnect = loaded.connection.status != ConnectionStatus::Initiated;
        let secrets = self
            .ctx
            .open_fields(FLOWS, &id.to_string(), Some(&flow.secrets))?;
        // A reconnect's old credentials, revoked at the provider once the new ones are in.
        let credentials = self.ctx.open(&loaded)?;
        // Counted in until committed, so a stopping server waits for it.
        let under_way = self.tokens.exchange()?;
        let note = self.exchange(id, &credentials, &secrets, query)?;
        drop(under_way);
        if reconnect
            && let Some(Err(e)) = credentials
                .issuer()
                .and_then(|i| i.revoke(self.tokens.net()))
        {
            tracing::warn!(connection = %id, error = %e, "the replaced tokens could not be revoked at the provider");
        }
        Ok(note)
    }

    fn exchange(
        &self,
        id: ConnectionId,
        credentials: &Credentials,
        secrets: &SecretFields,
        query: &CallbackQuery,
    ) -> Completion {
        match credentials {
            Credentials::OAuth2(oauth2) => {
                if oauth2.requires_iss() && query.iss.is_none() {
                    return Err(Refusal::Query(
                        "The answer does not name its authorization server (no iss, RFC 9207); refused.",
                    ));
                }
                let code = given(
                    &query.code,
                    "The provider's answer carries no authorization code.",
                )?;
                let verifier = secrets
                    .text("pkce_verifier")
                    .map(|v| SecretString::from(v.expose_secret()));
                let renewed = oauth2.exchange_code(
                    self.tokens.net(),
                    code,
                    verifier.as_ref(),
                    self.ctx.clock.unix(),
                )?;
                let note = no_refresh_token(&renewed);
                if let Some(note) = &note {
                    tracing::warn!(connection = %id, "{note}");
                }
                self.tokens
                    .commit_noted(id, authorizable, note.as_deref(), |params, sealed| {
                        // A reconnect's grant replaces the old one whole.
                        sealed.remove("refresh_token");
                        params.remove(crate::auth::REFRESH_EXPIRES_AT);
                        renewed.store(params, sealed)
                    })?;
                Ok(note)
            }
            Credentials::OAuth1(oauth1) => {
                let verifier = given(
                    &query.oauth_verifier,
                    "The provider's answer carries no oauth_verifier.",
                )?;
                self.complete_oauth1(id, oauth1, secrets, verifier)
            }
            _ => Err(Error::Internal("not a browser flow".into()).into()),
        }
    }

    fn complete_oauth1(
        &self,
        id: ConnectionId,
        oauth1: &OAuth1,
        secrets: &SecretFields,
        verifier: &str,
    ) -> Completion {
        let secret = |k: &str| {
            secrets
                .text(k)
                .map(|s| s.expose_secret())
                .unwrap_or_default()
        };
        let temporary = TemporaryCredentials {
            token: secret("oauth_token").to_string(),
            token_secret: SecretString::from(secret("oauth_token_secret")),
        };
        let endpoints = oauth1.endpoints()?;
        let consumer = oauth1.consumer()?;
        let tokens = oauth1::access_token(
            self.tokens.net(),
            endpoints,
            &consumer,
            &temporary,
            verifier,
            self.ctx.clock.unix(),
        )?;
        self.tokens.commit(id, authorizable, |params, sealed| {
            for (k, v) in &tokens.extra {
                params.insert(k.clone(), Value::String(v.clone()));
            }
            sealed.set("oauth_token", tokens.token.expose_secret());
            sealed.set("oauth_token_secret", tokens.token_secret.expose_secret());
        })?;
        Ok(None)
    }
}

/// What to tell the user about a first grant whose access token expires and that came
/// without a refresh token: the connection works until then and turns EXPIRED after.
fn no_refresh_token(renewed: &Renewed) -> Option<String> {
    if renewed.refresh_token.is_some() {
        return None;
    }
    let expires = renewed.expires_at?;
    let when = time::OffsetDateTime::from_unix_timestamp(expires)
        .map(crate::clock::format_stamp)
        .unwrap_or_else(|_| expires.to_string());
    Some(format!(
        "no refresh token: the provider's access token expires at {when} and it issued no \
         refresh token, so the connection turns EXPIRED then; ask for offline access (the \
         offline_access scope, or the provider's own switch such as access_type=offline) and reconnect"
    ))
}

/// A flow's connection may turn ACTIVE from where it is: INITIATED for a new connection,
/// anything but DELETED for a reconnect.
fn authorizable(current: &Connection) -> Result<()> {
    Ok(current.status.check(ConnectionStatus::Active)?)
}

/// A completed flow, with what the user should know about the new credential, if anything.
type Completion = std::result::Result<Option<String>, Refusal>;

/// Why a completion failed: the answer lacked what the protocol needs, or the exchange
/// (or what follows it) failed.
enum Refusal {
    Query(&'static str),
    Exchange(Error),
}

impl<E: Into<Error>> From<E> for Refusal {
    fn from(e: E) -> Self {
        Refusal::Exchange(e.into())
    }
}

fn given<'a>(
    value: &'a Option<String>,
    missing: &'static str,
) -> std::result::Result<&'a str, Refusal> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::Query(missing))
}
