//! Webhooks: every connection status event POSTed as JSON (the `StatusEventDto` the event
//! stream sends) to the configured loopback URL, off the request path — one thread reads
//! the service's event feed and delivers in order, so a slow or failing receiver never
//! holds up a status change. Each attempt is signed with HMAC-SHA256 over
//! `"{timestamp}.{body}"` (`X-Keyport-Signature: t=<unix seconds>,v1=<hex>`, as
//! `README.md` documents), sent through keyport's outbound client (no redirects
//! followed, a timeout), and retried with doubling back-off a bounded number of times;
//! after the last attempt the event is dropped with a warning. The secret never reaches
//! a log.

use std::sync::Arc;
use std::time::Duration;

use ring::hmac;

use crate::clock::Clock;
use crate::config::Webhook;
use crate::http::dto::StatusEventDto;
use crate::net::{MAX_RESPONSE, Net};
use crate::service::{Service, StatusEvent};

/// Attempts per event, the first included.
pub const ATTEMPTS: u32 = 5;
/// The wait before the first retry; each later one doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const SIGNATURE_HEADER: &str = "X-Keyport-Signature";
pub const EVENT_ID_HEADER: &str = "X-Keyport-Event-Id";

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`.
pub fn signature(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let hex: String = ctx
        .sign()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

struct Deliverer {
    url: String,
    key: hmac::Key,
    net: Net,
    clock: Clock,
}

impl Deliverer {
    /// One attempt: `Ok` when the receiver answered 2xx, else what it did.
    fn attempt(&self, event_id: u64, body: &[u8]) -> Result<(), String> {
        let sig = signature(&self.key, self.clock.unix(), body);
        let request = http::Request::post(&self.url)
            .header("Content-Type", "application/json")
            .header(EVENT_ID_HEADER, event_id.to_string())
            .header(SIGNATURE_HEADER, sig)
            .body(body.to_vec())
            .map_err(|e| e.to_string())?;
        match self.net.send(request) {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => Err(format!("answered HTTP {}", answer.status().as_u16())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Delivers one event, retrying with back-off up to [`ATTEMPTS`] times.
    fn deliver(&self, event: &StatusEvent) {
        let body = match serde_json::to_vec(&StatusEventDto::from(event)) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(event = event.id, error = %e, "webhook body not serializable");
                return;
            }
        };
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match self.attempt(event.id, &body) {
                Ok(()) => {
                    tracing::debug!(event = event.id, attempt, "webhook delivered");
                    return;
                }
                Err(why) if attempt < ATTEMPTS => {
                    tracing::info!(event = event.id, attempt, error = %why, "webhook delivery failed; retrying");
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                Err(why) => {
                    tracing::warn!(event = event.id, attempts = ATTEMPTS, error = %why, "webhook delivery gave up");
                }
            }
        }
    }
}

/// Starts delivering `service`'s status events to `webhook` on a thread of its own.
pub fn spawn(service: Arc<Service>, webhook: &Webhook) -> std::io::Result<()> {
    let deliverer = Deliverer {
        url: webhook.url.to_string(),
        key: hmac::Key::new(hmac::HMAC_SHA256, webhook.secret.expose_secret()),
        net: Net::new(TIMEOUT, MAX_RESPONSE),
        clock: service.clock().clone(),
    };
    let mut feed = service.all_events();
    tracing::info!(url = %webhook.url, "status events are delivered to the webhook");
    std::thread::Builder::new()
        .name("keyport-webhooks".into())
        .spawn(move || {
            while let Some(event) = service.next_event_blocking(&mut feed) {
                deliverer.deliver(&event);
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        let sig = signature(&key, 1700000000, b"{\"id\":1}");
        let (t, v1) = sig.split_once(",v1=").unwrap_or_default();
        assert_eq!(t, "t=1700000000");
        let mac = hex::decode(v1).unwrap_or_default();
        assert!(hmac::verify(&key, b"1700000000.{\"id\":1}", &mac).is_ok());
        assert!(hmac::verify(&key, b"1700000001.{\"id\":1}", &mac).is_err());
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"other");
        assert!(hmac::verify(&other, b"1700000000.{\"id\":1}", &mac).is_err());
    }
}
