//! Requests held for the user's approval: a key created with `approval: writes` has each
//! request that is not a read wait here until the user approves or denies it (CLI, API or
//! the local page), or the wait times out. Nothing is sent upstream before an approval.
//! Pending requests live in memory only: a server that stops refuses them all (audited),
//! and nothing pending survives a restart.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;
use uuid::Uuid;

use super::audit;
use super::caller::Caller;
use super::ctx::{random_token, token_hash};
use super::error::{Error, Result};
use super::proxy::{Attempt, Call};
use crate::audit::record::{Entry, Event};
use crate::domain::api_key::{Access, Approval, Permission};
use secrecy::{ExposeSecret, SecretString};

/// A request waiting for the user, as the user sees it: no credential, and the body only
/// as a short summary with the connection's secrets masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub key_id: String,
    pub key_name: String,
    pub entity: String,
    pub connection: String,
    pub app: String,
    /// The named action, when it is one.
    pub action: Option<String>,
    pub method: String,
    pub host: String,
    pub path: String,
    pub body: Option<String>,
    pub asked_at: String,
    pub expires_at: String,
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Denied,
    /// The server is stopping.
    Stopped,
}

struct Waiting {
    request: PendingRequest,
    answer: oneshot::Sender<Answer>,
}

/// How long a link to the approvals page works.
const PAGE_LIFETIME_SECS: i64 = 3600;

/// The table of pending requests, and the links to the approvals page (by the SHA-256 of
/// their token, with the key that asked for each and when it stops working).
#[derive(Default)]
pub struct Approvals {
    pending: Mutex<HashMap<String, Waiting>>,
    pages: Mutex<HashMap<[u8; 32], (Caller, i64)>>,
}

/// A link to the approvals page, handed out once.
pub struct PageLink {
    pub token: SecretString,
    pub expires_at: String,
}

impl Approvals {
    /// Puts `request` (its `id` is assigned here) in the table; the receiver gets the answer.
    pub fn ask(&self, mut request: PendingRequest) -> (String, oneshot::Receiver<Answer>) {
        let id = Uuid::new_v4().to_string();
        request.id = id.clone();
        let (answer, rx) = oneshot::channel();
        self.table().insert(id.clone(), Waiting { request, answer });
        (id, rx)
    }

    /// Every pending request, oldest first.
    pub fn list(&self) -> Vec<PendingRequest> {
        let mut all: Vec<PendingRequest> =
            self.table().values().map(|w| w.request.clone()).collect();
        all.sort_by(|a, b| a.asked_at.cmp(&b.asked_at).then(a.id.cmp(&b.id)));
        all
    }

    /// Answers one pending request; `NotFound` when it is not (or no longer) waiting.
    pub fn answer(&self, id: &str, answer: Answer) -> Result<PendingRequest> {
        let waiting = self
            .table()
            .remove(id)
            .ok_or_else(|| Error::not_found("pending request", id))?;
        // The requester may have gone (its client disconnected): the answer is moot then.
        let _ = waiting.answer.send(answer);
        Ok(waiting.request)
    }

    /// Takes a request out unanswered (its wait timed out or was abandoned); what it was.
    pub fn withdraw(&self, id: &str) -> Option<PendingRequest> {
        self.table().remove(id).map(|w| w.request)
    }

    /// Refuses every pending request (the server is stopping); what they were.
    pub fn refuse_all(&self) -> Vec<PendingRequest> {
        let drained: Vec<Waiting> = self.table().drain().map(|(_, w)| w).collect();
        drained
            .into_iter()
            .map(|w| {
                let _ = w.answer.send(Answer::Stopped);
                w.request
            })
            .collect()
    }

    /// The key a page token was handed to, while the token works.
    fn page_owner(&self, token: &str, now: i64) -> Result<Caller> {
        // (A revoked owner key is refused by the caller of this, which knows the key ring.)
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages.retain(|_, (_, until)| *until > now);
        pages
            .get(&token_hash(token))
            .map(|(caller, _)| caller.clone())
            .ok_or_else(|| Error::not_found("approvals page", "this link"))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Holding a call for the user, and the user's answers.
impl super::Service {
    /// Waits for the user's approval of `call` when `caller` (from [`Service::approver`])
    /// is given and the call is not a read (a GET or HEAD, or an action its definition marks
    /// read); `Forbidden` with the reason when it is denied, times out or the server stops
    /// first. Nothing has been sent upstream when this returns an error.
    pub(crate) async fn approved(
        self: &std::sync::Arc<Self>,
        caller: Option<&Caller>,
        call: &Call,
        attempt: &Attempt,
        action: Option<&str>,
    ) -> Result<()> {
        let Some(caller) = caller.filter(|c| c.restrictions.approval == Approval::Writes) else {
            return Ok(());
        };
        // An action is what its definition says it is; a raw request, what its method says.
        let read = match action {
            Some(name) => self.apps().action(name)?.access() == Access::Read,
            None => call.is_read(),
        };
        if read {
            return Ok(());
        }
        let timeout = self.ctx.approval_timeout;
        let mut request = call.pending(attempt);
        request.key_id = caller.key_id.to_string();
        request.key_name = caller.name.clone();
        request.action = action.map(str::to_owned);
        request.asked_at = self.ctx.clock.stamp();
        request.expires_at = crate::clock::format_stamp(self.ctx.clock.now() + timeout);
        let (id, answer) = self.ctx.approvals.ask(request.clone());
        request.id = id.clone();
        self.ctx
            .audit
            .record(approval_entry(&self.ctx, Some(caller), &request, "pending"));
        // Withdrawn, and recorded, if this wait is dropped unanswered: the agent
        // disconnected, or the server stopped with the request still waiting.
        let _pending = Withdraw(self, &request);
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(Answer::Approved)) => Ok(()),
            Ok(Ok(Answer::Denied)) => Err(Error::Forbidden(format!(
                "the user denied this request (approval {id})"
            ))),
            Ok(Ok(Answer::Stopped) | Err(_)) => Err(Error::Forbidden(format!(
                "the server stopped before the user answered (approval {id})"
            ))),
            Err(_) => {
                if self.ctx.approvals.withdraw(&id).is_some() {
                    let entry = approval_entry(&self.ctx, None, &request, "timed out");
                    self.ctx.audit.record(entry);
                }
                Err(Error::Forbidden(format!(
                    "the user did not answer within {} s (approval {id})",
                    timeout.as_secs()
                )))
            }
        }
    }

    /// The caller to hold a call for, kept past its preparation: only a key whose writes
    /// wait for approval needs one (the others are not copied on every call).
    pub(crate) fn approver(caller: &Caller) -> Option<Caller> {
        (caller.restrictions.approval == Approval::Writes).then(|| caller.clone())
    }

    /// The requests waiting for the user (admin keys).
    pub fn list_approvals(&self, caller: &Caller) -> Result<Vec<PendingRequest>> {
        caller.require(Permission::Admin)?;
        Ok(self.ctx.approvals.list())
    }

    /// Approves or denies a waiting request (admin keys).
    pub fn answer_approval(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
    ) -> Result<PendingRequest> {
        caller.require(Permission::Admin)?;
        let answer = if approve {
            Answer::Approved
        } else {
            Answer::Denied
        };
        let request = self.ctx.approvals.answer(id.trim(), answer)?;
        let outcome = if approve { "approved" } else { "denied" };
        self.ctx
            .audit
            .record(approval_entry(&self.ctx, Some(caller), &request, outcome));
        Ok(request)
    }

    /// A link to the approvals page for the user of `caller`'s (admin) key: the page lists
    /// what waits and answers with that key's authority, for an hour.
    pub fn open_approvals_page(&self, caller: &Caller) -> Result<PageLink> {
        caller.require(Permission::Admin)?;
        let token = random_token()?;
        let until = self.ctx.clock.unix() + PAGE_LIFETIME_SECS;
        self.ctx
            .approvals
            .pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token_hash(token.expose_secret()), (caller.clone(), until));
        let expires_at = crate::clock::format_unix_ms(until * 1000);
        Ok(PageLink { token, expires_at })
    }

    /// What the approvals page behind `token` shows.
    pub fn approvals_page(&self, token: &str) -> Result<Vec<PendingRequest>> {
        let owner = self.page_owner(token)?;
        self.list_approvals(&owner)
    }

    /// When the link with `token` stops working.
    pub fn approvals_page_expiry(&self, token: &str) -> Option<String> {
        let pages = self
            .ctx
            .approvals
            .pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (_, until) = pages.get(&token_hash(token))?;
        Some(crate::clock::format_unix_ms(until * 1000))
    }

    /// An answer given on the approvals page behind `token`.
    pub fn answer_on_page(&self, token: &str, id: &str, approve: bool) -> Result<PendingRequest> {
        let owner = self.page_owner(token)?;
        self.answer_approval(&owner, id, approve)
    }

    /// The key a page link was handed to, while both the link and the key are valid.
    fn page_owner(&self, token: &str) -> Result<Caller> {
        let owner = self
            .ctx
            .approvals
            .page_owner(token, self.ctx.clock.unix())?;
        if !self.still_admits(&owner) {
            return Err(Error::not_found("approvals page", "this link"));
        }
        Ok(owner)
    }

    /// Refuses every waiting request: the server is stopping.
    pub fn refuse_approvals(&self) {
        for request in self.ctx.approvals.refuse_all() {
            let entry = approval_entry(&self.ctx, None, &request, "refused: the server stopped");
            self.ctx.audit.record(entry);
        }
    }
}

/// Takes a pending request out of the table when its wait ends unanswered, and records it.
struct Withdraw<'a>(&'a super::Service, &'a PendingRequest);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let Withdraw(svc, request) = self;
        if svc.ctx.approvals.withdraw(&request.id).is_some() {
            let outcome = "refused: the request ended unanswered (agent gone or server stopped)";
            svc.ctx
                .audit
                .record(approval_entry(&svc.ctx, None, request, outcome));
        }
    }
}

/// The audit record of an approval's step: asked (by the agent's key), answered (by the
/// user's), or ended without an answer (no key).
fn approval_entry(
    ctx: &super::ctx::Ctx,
    by: Option<&Caller>,
    request: &PendingRequest,
    outcome: &str,
) -> Entry {
    let event = if outcome == "pending" {
        Event::ApprovalAsked
    } else {
        Event::ApprovalAnswered
    };
    let mut entry = audit::entry(ctx, event, by);
    entry.entity = Some(request.entity.clone());
    entry.connection = Some(request.connection.clone());
    entry.app = Some(request.app.clone());
    entry.action = request.action.clone();
    entry.method = Some(request.method.clone());
    entry.host = Some(request.host.clone());
    entry.path = Some(request.path.clone());
    entry.outcome = outcome.to_owned();
    entry.detail = Some(format!(
        "approval {} for key {:?}",
        request.id, request.key_name
    ));
    entry
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn request(at: &str) -> PendingRequest {
        PendingRequest {
            id: String::new(),
            key_id: "k".into(),
            key_name: "agent".into(),
            entity: "alice".into(),
            connection: "c".into(),
            app: "github".into(),
            action: None,
            method: "POST".into(),
            host: "api.github.com".into(),
            path: "/repos".into(),
            body: None,
            asked_at: at.into(),
            expires_at: at.into(),
        }
    }

    #[test]
    fn each_request_is_answered_once_and_a_stop_refuses_the_rest() {
        let approvals = Approvals::default();
        let (first, mut first_rx) = approvals.ask(request("1"));
        let (second, mut second_rx) = approvals.ask(request("2"));
        let (third, _third_rx) = approvals.ask(request("3"));
        let ids: Vec<String> = approvals.list().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, [first.clone(), second.clone(), third.clone()]);

        assert_eq!(
            approvals.answer(&first, Answer::Approved).unwrap().id,
            first
        );
        assert_eq!(first_rx.try_recv().unwrap(), Answer::Approved);
        assert!(
            approvals.answer(&first, Answer::Denied).is_err(),
            "answered once"
        );
        assert_eq!(approvals.withdraw(&third).map(|r| r.id), Some(third));

        let refused: Vec<String> = approvals.refuse_all().into_iter().map(|r| r.id).collect();
        assert_eq!(refused, [second]);
        assert_eq!(second_rx.try_recv().unwrap(), Answer::Stopped);
        assert!(approvals.list().is_empty());
    }
}
