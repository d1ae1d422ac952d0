//! Connection status events: what `GET /api/v1/events` streams and webhooks deliver. Every
//! status change is published here from the one place that records it
//! ([`super::ctx::Ctx::transitioned`]), numbered, kept in a bounded in-memory ring (so a
//! client that reconnects with the last id it saw misses nothing the ring still holds) and
//! broadcast to live subscribers.
//!
//! Ids grow across restarts: the first id of a run is the start time in milliseconds times
//! 1000, so an id remembered from an earlier run is older than every event of this one (a
//! resume from it replays the whole ring).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::caller::Caller;
use crate::domain::{Connection, ConnectionStatus};
use crate::ids::{ConnectionId, EntityId, IntegrationId};

/// How many past events a resuming client can catch up on.
pub const RING: usize = 1024;

/// One connection status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusEvent {
    /// Orders events; a client resumes after the last one it saw.
    pub id: u64,
    pub connection_id: ConnectionId,
    pub entity_id: EntityId,
    pub integration_id: IntegrationId,
    pub app_key: String,
    /// `None` for a connection that did not exist before.
    pub from: Option<ConnectionStatus>,
    pub to: ConnectionStatus,
    /// The status reason the change recorded, if any.
    pub reason: Option<String>,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
}

impl StatusEvent {
    /// Whether `caller` may see this event: admin and unrestricted keys see all, a key
    /// restricted to an entity sees that entity's.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.may_act_for(&self.entity_id).is_ok()
    }
}

/// Which connection an event is about.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub id: ConnectionId,
    pub entity_id: &'a EntityId,
    pub integration_id: IntegrationId,
    pub app_key: &'a str,
}

impl<'a> From<&'a Connection> for Subject<'a> {
    fn from(c: &'a Connection) -> Self {
        Subject {
            id: c.id,
            entity_id: &c.entity_id,
            integration_id: c.integration_id,
            app_key: &c.app_key,
        }
    }
}

struct Ring {
    next: u64,
    past: VecDeque<Arc<StatusEvent>>,
}

/// The event log: a numbered ring and a broadcast of what is added to it.
pub struct EventLog {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<StatusEvent>>,
}

/// A subscription: what the ring held after the resume point, then the live events.
pub struct Subscription {
    pub backlog: Vec<Arc<StatusEvent>>,
    pub live: broadcast::Receiver<Arc<StatusEvent>>,
}

impl EventLog {
    /// An empty log whose first id is `start_ms * 1000`.
    pub fn new(start_ms: i64) -> EventLog {
        let first = u64::try_from(start_ms).unwrap_or(0).saturating_mul(1000);
        EventLog {
            ring: Mutex::new(Ring {
                next: first.max(1),
                past: VecDeque::with_capacity(RING),
            }),
            live: broadcast::channel(RING).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Numbers a change of `connection` and hands it to the ring and every subscriber.
    pub fn publish(
        &self,
        connection: Subject<'_>,
        from: Option<ConnectionStatus>,
        to: ConnectionStatus,
        reason: Option<&str>,
        at: String,
    ) {
        let mut ring = self.lock();
        let event = Arc::new(StatusEvent {
            id: ring.next,
            connection_id: connection.id,
            entity_id: connection.entity_id.clone(),
            integration_id: connection.integration_id,
            app_key: connection.app_key.to_string(),
            from,
            to,
            reason: reason.map(str::to_string),
            at,
        });
        ring.next += 1;
        if ring.past.len() == RING {
            ring.past.pop_front();
        }
        ring.past.push_back(event.clone());
        // Sent under the lock, so a subscriber's backlog and live events neither overlap
        // nor leave a gap. No subscriber is not an error.
        let _ = self.live.send(event);
    }

    /// The events after `after` still in the ring (all of them for `None`), and a
    /// receiver of every later one.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let ring = self.lock();
        let live = self.live.subscribe();
        Subscription {
            backlog: since(&ring.past, after),
            live,
        }
    }

    /// The events after `after` still in the ring: what a subscriber that fell behind the
    /// broadcast reads instead of what it missed.
    pub fn since(&self, after: Option<u64>) -> Vec<Arc<StatusEvent>> {
        since(&self.lock().past, after)
    }
}

/// One reader's events in order, each once: the ring's backlog, then live events; a
/// reader that fell behind the broadcast catches up from the ring. Only the events its
/// caller may see (all of them for the server's own readers, such as webhooks).
pub struct EventFeed {
    caller: Option<Caller>,
    last: Option<u64>,
    pending: VecDeque<Arc<StatusEvent>>,
    live: broadcast::Receiver<Arc<StatusEvent>>,
}

impl EventFeed {
    /// The events after `after` (all the ring holds for `None`) that `caller` may see.
    pub fn new(log: &EventLog, caller: Option<Caller>, after: Option<u64>) -> EventFeed {
        let Subscription { backlog, live } = log.subscribe(after);
        EventFeed {
            caller,
            last: after,
            pending: backlog.into(),
            live,
        }
    }

    /// The next event, waiting for it; `None` once the log is gone.
    pub async fn next(&mut self, log: &EventLog) -> Option<Arc<StatusEvent>> {
        loop {
            if let Some(event) = self.pop() {
                return Some(event);
            }
            let got = self.live.recv().await;
            self.accept(got, log)?;
        }
    }

    /// [`EventFeed::next`] for a thread outside the async runtime.
    pub fn next_blocking(&mut self, log: &EventLog) -> Option<Arc<StatusEvent>> {
        loop {
            if let Some(event) = self.pop() {
                return Some(event);
            }
            let got = self.live.blocking_recv();
            self.accept(got, log)?;
        }
    }

    fn pop(&mut self) -> Option<Arc<StatusEvent>> {
        while let Some(event) = self.pending.pop_front() {
            if self.last.is_some_and(|last| event.id <= last) {
                continue;
            }
            self.last = Some(event.id);
            if self.caller.as_ref().is_none_or(|c| event.visible_to(c)) {
                return Some(event);
            }
        }
        None
    }

    fn accept(
        &mut self,
        got: Result<Arc<StatusEvent>, broadcast::error::RecvError>,
        log: &EventLog,
    ) -> Option<()> {
        match got {
            Ok(event) => self.pending.push_back(event),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.pending.extend(log.since(self.last));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
        Some(())
    }
}

fn since(past: &VecDeque<Arc<StatusEvent>>, after: Option<u64>) -> Vec<Arc<StatusEvent>> {
    past.iter()
        .filter(|e| after.is_none_or(|a| e.id > a))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn connection(entity: &str) -> Connection {
        Connection {
            id: ConnectionId::new(),
            integration_id: IntegrationId::new(),
            entity_id: EntityId::parse(entity).unwrap_or_else(|_| EntityId::default_entity()),
            app_key: "github".into(),
            status: ConnectionStatus::Active,
            status_reason: None,
            labels: vec![],
            params: Map::new(),
            secret_keys: vec![],
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn ids_grow_across_runs_and_the_ring_is_bounded() {
        let log = EventLog::new(5);
        let c = connection("default");
        for _ in 0..RING + 3 {
            log.publish(
                (&c).into(),
                None,
                ConnectionStatus::Active,
                None,
                String::new(),
            );
        }
        let all = log.since(None);
        assert_eq!(all.len(), RING);
        assert_eq!(all.first().map(|e| e.id), Some(5003));
        assert_eq!(all.last().map(|e| e.id), Some(5000 + RING as u64 + 2));
        // A run that started later (by more than its predecessor's events / 1000 ms).
        let later = EventLog::new(7);
        later.publish(
            (&c).into(),
            None,
            ConnectionStatus::Active,
            None,
            String::new(),
        );
        assert!(
            later
                .since(None)
                .iter()
                .all(|e| e.id > 5000 + RING as u64 + 2)
        );
    }

    #[test]
    fn a_subscriber_gets_the_backlog_then_live_events_without_gap_or_overlap() {
        let log = EventLog::new(1);
        let c = connection("default");
        for to in [ConnectionStatus::Initiated, ConnectionStatus::Active] {
            log.publish((&c).into(), None, to, None, String::new());
        }
        let mut sub = log.subscribe(Some(1000));
        assert_eq!(sub.backlog.iter().map(|e| e.id).collect::<Vec<_>>(), [1001]);
        log.publish(
            (&c).into(),
            Some(ConnectionStatus::Active),
            ConnectionStatus::Expired,
            Some("invalid_grant"),
            String::new(),
        );
        let next = sub.live.try_recv().ok();
        assert_eq!(next.as_ref().map(|e| e.id), Some(1002));
        assert_eq!(
            next.and_then(|e| e.reason.clone()).as_deref(),
            Some("invalid_grant")
        );
    }
}
