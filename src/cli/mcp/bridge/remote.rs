//! The remote end of the bridge: MCP's Streamable HTTP transport. Each message is POSTed
//! with the login's bearer token; the answer is a JSON message, a server-sent event stream
//! of messages (notifications first, the response last), or `202 Accepted`. The session id
//! the server hands out on `initialize` goes on every later request, with the protocol
//! version it chose; `GET` opens the stream of the server's own messages.

use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use ureq::Agent;
use ureq::http::Response;

use crate::auth::oauth2::discovery::Challenge;
use crate::net::MAX_RESPONSE;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// How the remote server answered one request.
#[derive(Debug)]
pub enum Outcome {
    /// Everything it said went to the host (or it accepted a notification).
    Delivered,
    /// `405` to the `GET` stream: the server sends nothing unasked.
    NoStream,
    /// `401`: the token was refused.
    Unauthorized(Challenge),
    /// `403` with `insufficient_scope`: a step-up.
    StepUp(Challenge),
    /// Anything else, said in a sentence.
    Failed(String),
}

pub struct Remote {
    agent: Agent,
    url: String,
    session: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
}

fn locked<T: Clone>(m: &Mutex<Option<T>>) -> Option<T> {
    m.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

impl Remote {
    pub fn new(url: String) -> Remote {
        // No redirects (a token must not follow one), a bounded connect; no overall limit,
        // since a tool may run long and an event stream stays open.
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Remote {
            agent,
            url,
            session: Mutex::new(None),
            version: Mutex::new(None),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn headers<B>(
        &self,
        mut request: ureq::RequestBuilder<B>,
        token: &str,
    ) -> ureq::RequestBuilder<B> {
        request = request.header("authorization", format!("Bearer {token}"));
        if let Some(session) = locked(&self.session) {
            request = request.header(SESSION_HEADER, session);
        }
        if let Some(version) = locked(&self.version) {
            request = request.header(VERSION_HEADER, version);
        }
        request
    }

    /// Sends one message and hands each message that comes back to `deliver`.
    pub fn post(&self, body: &[u8], token: &str, deliver: &mut dyn FnMut(Value)) -> Outcome {
        let request = self
            .headers(self.agent.post(&self.url), token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        match request.send(body) {
            Ok(response) => self.relay(response, deliver),
            Err(e) => Outcome::Failed(format!(
                "could not reach the MCP server at {}: {e}",
                self.url
            )),
        }
    }

    /// Opens the server's own stream and relays it until it ends.
    pub fn listen(&self, token: &str, deliver: &mut dyn FnMut(Value)) -> Outcome {
        let request = self
            .headers(self.agent.get(&self.url), token)
            .header("accept", "text/event-stream");
        match request.call() {
            Ok(r) if r.status() == 405 => Outcome::NoStream,
            Ok(response) => self.relay(response, deliver),
            Err(e) => Outcome::Failed(format!(
                "could not reach the MCP server at {}: {e}",
                self.url
            )),
        }
    }

    /// Ends the session at the server (best effort), as a host leaving does.
    pub fn close(&self, token: &str) {
        if locked(&self.session).is_some() {
            let _ = self.headers(self.agent.delete(&self.url), token).call();
        }
    }

    fn relay(&self, response: Response<ureq::Body>, deliver: &mut dyn FnMut(Value)) -> Outcome {
        let status = response.status().as_u16();
        let challenge = || {
            response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(Challenge::parse)
                .unwrap_or_default()
        };
        match status {
            401 => return Outcome::Unauthorized(challenge()),
            403 if challenge().insufficient_scope() => return Outcome::StepUp(challenge()),
            200..=299 => {}
            _ => {
                return Outcome::Failed(format!(
                    "the MCP server at {} answered HTTP {status}",
                    self.url
                ));
            }
        }
        if let Some(session) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            *self
                .session
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(session.to_string());
        }
        let stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let body =
            response
                .into_body()
                .into_reader()
                .take(if stream { u64::MAX } else { MAX_RESPONSE });
        if stream {
            return self.relay_events(BufReader::new(body), deliver);
        }
        let mut bytes = Vec::new();
        if let Err(e) = BufReader::new(body).read_to_end(&mut bytes) {
            return Outcome::Failed(format!("the MCP server's answer broke off: {e}"));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Outcome::Delivered; // 202 Accepted, or an empty 200
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(message) => {
                self.deliver(message, deliver);
                Outcome::Delivered
            }
            Err(e) => Outcome::Failed(format!("the MCP server answered something not JSON: {e}")),
        }
    }

    /// Server-sent events: each event's `data` lines are one message.
    fn relay_events(&self, mut reader: impl BufRead, deliver: &mut dyn FnMut(Value)) -> Outcome {
        let mut data = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => return Outcome::Delivered,
                Ok(_) => {}
                Err(e) => {
                    return Outcome::Failed(format!("the MCP server's stream broke off: {e}"));
                }
            }
            if data.len() > MAX_RESPONSE as usize {
                return Outcome::Failed("an event from the MCP server is too large".into());
            }
            let text = line.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if !data.is_empty() {
                    match serde_json::from_str::<Value>(&data) {
                        Ok(message) => self.deliver(message, deliver),
                        Err(e) => eprintln!("keyport mcp bridge: an event that is not JSON: {e}"),
                    }
                    data.clear();
                }
                continue;
            }
            if let Some(value) = text.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
    }

    /// Hands a message to the host, noting the protocol version an `initialize` result
    /// chose (every later request carries it).
    fn deliver(&self, message: Value, deliver: &mut dyn FnMut(Value)) {
        if let Some(version) = message
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
        {
            *self
                .version
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(version.to_string());
        }
        deliver(message);
    }

    /// Whether the server has given this bridge a session.
    pub fn in_session(&self) -> bool {
        locked(&self.session).is_some()
    }
}
