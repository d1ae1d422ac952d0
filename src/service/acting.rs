//! Acting for an entity through keyport: the proxy and named actions, each prepared
//! (inline or on the blocking pool), held for the user's approval when its key asks for
//! that, sent through the calling worker's async client, and recorded in the audit log
//! with its outcome — one path for both.

use std::sync::Arc;

use super::audit;
use super::caller::Caller;
use super::error::{Error, Result};
use super::proxy::{self, Attempt, Call, prepare};
use super::{ActionOutcome, ExecuteAction, ProxyRequest, ProxyResponse, Service};
use crate::audit::record::{Entry, Event};
use crate::clock::Stopwatch;
use crate::ids::ConnectionId;
use crate::net::Upstream;
use serde_json::Value;

impl Service {
    /// Sends one request through a connection the caller may act through: prepared inline
    /// when that needs no I/O, else on the blocking pool; sent through `upstream` (the
    /// calling worker's client).
    pub async fn proxy(
        self: Arc<Self>,
        upstream: &Upstream,
        caller: Caller,
        req: ProxyRequest,
    ) -> Result<ProxyResponse> {
        let watch = Stopwatch::start();
        let entry = audit::entry(&self.ctx, Event::Proxy, Some(&caller));
        let asker = Service::approver(&caller);
        let started = prepare(&self, move |svc| svc.proxies().start(&caller, &req)).await;
        self.send(upstream, asker.as_ref(), (entry, watch), started, None)
            .await
    }

    /// Runs a named action: planned as the proxy prepares, sent through `upstream`.
    pub async fn execute_action(
        self: Arc<Self>,
        upstream: &Upstream,
        caller: Caller,
        req: ExecuteAction,
    ) -> Result<ActionOutcome> {
        let name = req.name.clone();
        let watch = Stopwatch::start();
        let mut entry = audit::entry(&self.ctx, Event::Action, Some(&caller));
        entry.action = Some(name.clone());
        let asker = Service::approver(&caller);
        let planner = caller.clone();
        let planned = prepare(&self, move |svc| svc.proxies().plan(&planner, &req)).await;
        let connection = planned.as_ref().ok().map(|(call, _)| call.connection_id());
        let answer = self
            .send(
                upstream,
                asker.as_ref(),
                (entry, watch),
                planned,
                Some(&name),
            )
            .await?;
        let mut data = answer.data();
        if let Some(id) = connection.filter(|_| answer.successful()) {
            self.follow_ups(upstream, &caller, id, &name, &mut data)
                .await?;
        }
        self.proxies().outcome(&name, answer.status, data)
    }

    /// An expanding action's follow-up reads for its first answer `data`, sent together
    /// and each audited; their answers put in place of the listed items.
    async fn follow_ups(
        self: &Arc<Self>,
        upstream: &Upstream,
        caller: &Caller,
        id: ConnectionId,
        name: &str,
        data: &mut Value,
    ) -> Result<()> {
        let action = self.apps().action(name)?;
        let endpoints = action.follow_ups(data);
        if endpoints.is_empty() {
            return Ok(());
        }
        let reads = endpoints.into_iter().map(|endpoint| {
            let watch = Stopwatch::start();
            let mut entry = audit::entry(&self.ctx, Event::Action, Some(caller));
            entry.action = Some(name.to_string());
            let (caller, name_owned) = (caller.clone(), name.to_string());
            async move {
                let started = prepare(self, move |svc| {
                    svc.proxies()
                        .follow_up(&caller, id, &name_owned, endpoint.clone())
                })
                .await;
                let answer = self
                    .send(upstream, None, (entry, watch), started, Some(name))
                    .await;
                answer
                    .ok()
                    .filter(ProxyResponse::successful)
                    .map(|r| r.data())
            }
        });
        let answers = futures_util::future::join_all(reads).await;
        action.merge_follow_ups(data, answers);
        Ok(())
    }

    /// A started call sent (after the user's approval, if the key asks for it), and its
    /// record written: refused or failed before it went out, or the provider's status.
    async fn send(
        self: &Arc<Self>,
        upstream: &Upstream,
        asker: Option<&Caller>,
        (entry, watch): (Entry, Stopwatch),
        started: Result<(Call, Attempt)>,
        action: Option<&str>,
    ) -> Result<ProxyResponse> {
        let (call, attempt) = match started {
            Ok(started) => started,
            Err(e) => {
                self.ctx.audit.record(audit::failed(entry, &e));
                return Err(e);
            }
        };
        let entry = call.audited(entry);
        let answer = match self.approved(asker, &call, &attempt, action).await {
            Ok(()) => proxy::complete(Arc::clone(self), upstream, call, attempt).await,
            Err(e) => Err(e),
        };
        self.audit_end(entry, watch, answer.as_ref().map(|r| r.status));
        answer
    }

    /// Records a call's end: the provider's status, or why there was none.
    fn audit_end(&self, mut entry: Entry, watch: Stopwatch, answer: Result<u16, &Error>) {
        entry.latency_ms = Some(watch.elapsed().as_millis() as i64);
        let entry = match answer {
            Ok(status) => {
                entry.status = Some(i64::from(status));
                entry
            }
            Err(e) => audit::failed(entry, e),
        };
        self.ctx.audit.record(entry);
    }
}
