//! A session's event stream (`GET /mcp`): `notifications/tools/list_changed` each time the
//! set of apps the entity has an ACTIVE connection to changes (woken by the service's
//! status changes, not by polling), and a comment line every `KEEPALIVE` so idle
//! connections stay open through proxies. The stream ends when its session ends, its key
//! is revoked or the server stops.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::Stream;
use rmcp::model::{ServerJsonRpcMessage, ServerNotification, ToolListChangedNotification};
use tokio::sync::watch;

use super::local::Local;
use super::sessions::Sessions;
use crate::mcp::Calls;

const KEEPALIVE: Duration = Duration::from_secs(15);

pub struct Events {
    calls: Calls<Local>,
}

struct State {
    calls: Calls<Local>,
    changes: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    known: Option<BTreeSet<String>>,
    sessions: Arc<Sessions>,
    id: String,
}

/// One server-sent event carrying `message`.
fn event(message: &ServerJsonRpcMessage) -> Bytes {
    let data = serde_json::to_string(message).unwrap_or_default();
    Bytes::from(format!("event: message\ndata: {data}\n\n"))
}

impl State {
    fn alive(&self) -> bool {
        let call = &self.calls.backend().call;
        self.sessions.is_open(&self.id, &call.caller().key_id)
            && call.service().still_admits(call.caller())
    }

    /// The next chunk to send, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let changed = tokio::select! {
                woke = self.changes.changed() => {
                    if woke.is_err() {
                        return None;
                    }
                    true
                }
                () = tokio::time::sleep(KEEPALIVE) => false,
                _ = self.stopping.wait_for(|stopping| *stopping) => return None,
            };
            if !self.alive() {
                return None;
            }
            if !changed {
                return Some(Bytes::from_static(b": keepalive\n\n"));
            }
            let Ok(apps) = self.calls.connected_apps().await else {
                continue;
            };
            if self.known.replace(apps.clone()).is_some_and(|k| k != apps) {
                let note = ServerNotification::ToolListChangedNotification(
                    ToolListChangedNotification::default(),
                );
                return Some(event(&ServerJsonRpcMessage::notification(note)));
            }
        }
    }
}

impl Events {
    pub fn new(calls: Calls<Local>) -> Events {
        Events { calls }
    }

    /// The stream for session `id`.
    pub fn run(
        self,
        sessions: Arc<Sessions>,
        id: String,
    ) -> impl Stream<Item = Result<Bytes, Infallible>> {
        let service = self.calls.backend().call.service();
        let changes = service.status_changes();
        let stopping = service.stopping();
        let state = State {
            calls: self.calls,
            changes,
            stopping,
            known: None,
            sessions,
            id,
        };
        futures_util::stream::unfold(state, |mut state| async move {
            if state.known.is_none() {
                // What the entity is connected to when the stream opens.
                state.known = Some(state.calls.connected_apps().await.unwrap_or_default());
                return Some((Ok(Bytes::from_static(b": open\n\n")), state));
            }
            let chunk = state.next().await?;
            Some((Ok(chunk), state))
        })
    }
}
