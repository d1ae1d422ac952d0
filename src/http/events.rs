//! `GET /api/v1/events`: connection status changes as server-sent events. Each event is
//! one `StatusEventDto` as JSON in `data:`, with its `id:`, so a client that reconnects
//! with `Last-Event-ID` gets what it missed (from the last 1024 events the server keeps);
//! a comment every `KEEPALIVE` keeps idle streams open through proxies. A key restricted
//! to an entity sees its entity's events only; the stream ends when the key is revoked
//! or the server stops.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::Stream;

use super::call::Call;
use super::dto::{Refusals, StatusEventDto};
use super::error::ApiError;
use crate::service::{Error, EventFeed, StatusEvent};

const KEEPALIVE: Duration = Duration::from_secs(15);

/// The id a resuming client last saw, from `Last-Event-ID`.
fn resume_point(req: &HttpRequest) -> Result<Option<u64>, Error> {
    let Some(raw) = req.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| Error::invalid("Last-Event-ID: expected the id of an event this stream sent"))
}

/// One server-sent event.
fn frame(event: &StatusEvent) -> Bytes {
    let data = serde_json::to_string(&StatusEventDto::from(event)).unwrap_or_default();
    Bytes::from(format!("id: {}\ndata: {data}\n\n", event.id))
}

struct State {
    call: Call,
    feed: EventFeed,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl State {
    /// The next chunk to send, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Bytes> {
        let svc = self.call.service();
        let woke = tokio::select! {
            event = svc.next_event(&mut self.feed) => Some(event),
            () = tokio::time::sleep(KEEPALIVE) => None,
            _ = self.stopping.wait_for(|stopping| *stopping) => return None,
        };
        if !svc.still_admits(self.call.caller()) {
            return None;
        }
        match woke {
            None => Some(Bytes::from_static(b": keepalive\n\n")),
            Some(event) => event.map(|e| frame(&e)),
        }
    }
}

fn run(call: Call, feed: EventFeed) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let stopping = call.service().stopping();
    let state = (
        State {
            call,
            feed,
            stopping,
        },
        true,
    );
    futures_util::stream::unfold(state, |(mut state, first)| async move {
        if first {
            return Some((Ok(Bytes::from_static(b": open\n\n")), (state, false)));
        }
        let chunk = state.next().await?;
        Some((Ok(chunk), (state, false)))
    })
}

/// Streams connection status changes (server-sent events).
///
/// Each event's `data:` is one status change as JSON, its `id:` what to send back as
/// `Last-Event-ID` to resume. Admin and unrestricted keys see every connection's
/// changes; a key restricted to an entity sees its entity's.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    operation_id = "streamEvents",
    params(("Last-Event-ID" = Option<u64>, Header,
        description = "Resume after this event (the last `id:` received)")),
    responses((status = 200, description = "A text/event-stream of status changes, one per event",
        content_type = "text/event-stream", body = StatusEventDto), Refusals))]
pub async fn stream(call: Call, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let after = resume_point(&req)?;
    let feed = call.service().events(call.caller(), after);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(run(call, feed)))
}
