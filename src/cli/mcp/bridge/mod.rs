//! `keyport mcp bridge NAME`: a stdio MCP server that stands in for a remote one. The host
//! spawns it where it would have named the remote URL; the bridge relays every JSON-RPC
//! message both ways (requests, responses, notifications, server-sent events, the session)
//! and puts on each request the login's access token, which it asks the running
//! `keyport serve` for every time — so the host never sees a token, the bridge keeps none
//! on disk, and however many bridges (and hosts) share a login, keyport's one token
//! lifecycle makes one refresh per token lifetime.
//!
//! A `401` from the server gets one renewal (shared with every other bridge: keyport
//! renews only if the refused token is still the current one) and one retry; a second
//! `401` is reported, not retried. A step-up `403` (`insufficient_scope`) widens the
//! server's scopes and answers with the link that authorizes them. With no usable login
//! the answer is the MCP spec's URL elicitation (`-32042`) with the connect link, or, for
//! a host without it, a tool error carrying the link.
//!
//! A host may start before anyone signed in: the bridge then answers `initialize` itself
//! (its instructions carry the link) and lists no tools; once the login exists it opens
//! the remote session with the host's own `initialize` and tells the host the tool list
//! changed.

mod remote;
mod reply;

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use self::remote::{Outcome, Remote};
use self::reply::{Elicitation, Host, INTERNAL_ERROR, Request};
use crate::cli::CliError;
use crate::cli::client::{Client, enc};
use crate::http::dto::{
    LOGIN_REQUIRED, McpServerDto, McpStepUpBody, McpTokenBody, McpTokenDto, Page,
};

/// JSON-RPC's parse error.
const PARSE_ERROR: i64 = -32700;
/// The id of the `initialize` the bridge replays to open a session late.
const LATE_INITIALIZE: &str = "keyport-bridge-initialize";

/// What keyport answered for the next request.
enum Grant {
    Token(SecretString),
    /// No login, and no sign-in started.
    Missing,
    Login {
        id: String,
        url: String,
        reason: String,
    },
}

struct Bridge {
    keyport: Client,
    name: String,
    entity: String,
    remote: Remote,
    host: Host,
    /// The host declared URL-mode elicitation.
    elicits: AtomicBool,
    listening: AtomicBool,
    /// The host's `initialize`, kept while the bridge answered it alone (no login yet):
    /// replayed to the server once there is one.
    unopened: Mutex<Option<Value>>,
}

impl Bridge {
    fn path(&self, what: &str) -> String {
        format!("/api/v1/mcp/servers/{}/{what}", enc(&self.name))
    }

    fn grant(answer: McpTokenDto) -> Result<Grant, String> {
        match (
            answer.status.as_str(),
            answer.access_token,
            answer.connect_url,
        ) {
            (LOGIN_REQUIRED, _, Some(url)) => Ok(Grant::Login {
                id: answer.connected_account_id.unwrap_or_default(),
                url,
                reason: answer.reason.unwrap_or_default(),
            }),
            (LOGIN_REQUIRED, _, None) => Ok(Grant::Missing),
            (_, Some(token), _) => Ok(Grant::Token(SecretString::from(token))),
            _ => Err("keyport answered with neither a token nor a link".into()),
        }
    }

    /// The token for the next request; with `refused`, a newer one than that. Without a
    /// login, a link that starts one.
    fn token(&self, refused: Option<&str>) -> Result<Grant, String> {
        self.ask(refused, true)
    }

    /// Whether there is a login now, starting no sign-in (a bridge waiting for one).
    fn signed_in(&self) -> bool {
        matches!(self.ask(None, false), Ok(Grant::Token(_)))
    }

    fn ask(&self, refused: Option<&str>, link: bool) -> Result<Grant, String> {
        let body = McpTokenBody {
            entity_id: Some(self.entity.clone()),
            refused: refused.map(str::to_string),
            link: Some(link),
        };
        let answer: McpTokenDto = self
            .keyport
            .post(&self.path("token"), &body)
            .map_err(|e| format!("keyport: {}", e.message))?;
        Self::grant(answer)
    }

    fn step_up(&self, scope: &str) -> Result<Grant, String> {
        let body = McpStepUpBody {
            entity_id: Some(self.entity.clone()),
            scope: scope.to_string(),
        };
        let answer: McpTokenDto = self
            .keyport
            .post(&self.path("step_up"), &body)
            .map_err(|e| format!("keyport: {}", e.message))?;
        Self::grant(answer)
    }

    fn to_host(&self) -> impl FnMut(Value) + '_ {
        |message| self.host.send(&message)
    }

    /// Sends `body` with a fresh token: one renewal and one retry after a `401`. `Err`
    /// carries what to tell the host instead.
    fn send(&self, body: &[u8], deliver: &mut dyn FnMut(Value)) -> Result<(), Refusal> {
        let mut refused: Option<String> = None;
        for attempt in 0..2 {
            let token = match self.token(refused.as_deref()).map_err(Refusal::Failed)? {
                Grant::Token(token) => token,
                Grant::Login { id, url, reason } => return Err(Refusal::Login { id, url, reason }),
                Grant::Missing => return Err(Refusal::Failed("keyport holds no login".into())),
            };
            match self.remote.post(body, token.expose_secret(), deliver) {
                Outcome::Delivered | Outcome::NoStream => return Ok(()),
                Outcome::Unauthorized(_) if attempt == 0 => {
                    refused = Some(crate::service::fingerprint(token.expose_secret()));
                }
                Outcome::Unauthorized(challenge) => {
                    let said = [challenge.error, challenge.error_description]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                    return Err(Refusal::Failed(format!(
                        "the MCP server at {} refused keyport's token again after a refresh \
                         ({}); it may accept tokens only for another audience than its URL. \
                         Not retried.",
                        self.remote.url(),
                        if said.is_empty() {
                            "no reason given".into()
                        } else {
                            said
                        }
                    )));
                }
                Outcome::StepUp(challenge) => {
                    let scope = challenge.scope.unwrap_or_default();
                    return Err(match self.step_up(&scope) {
                        Ok(Grant::Login { id, url, reason }) => Refusal::Login { id, url, reason },
                        Ok(Grant::Token(_) | Grant::Missing) => Refusal::Failed(
                            "the MCP server asks for more access than the login has".into(),
                        ),
                        Err(e) => Refusal::Failed(format!(
                            "the MCP server asks for more access (scope {scope}); {e}"
                        )),
                    });
                }
                Outcome::Failed(text) => return Err(Refusal::Failed(text)),
            }
        }
        Err(Refusal::Failed(
            "the MCP server refused keyport's token".into(),
        ))
    }

    /// Relays one message from the host; a request that cannot reach the server is
    /// answered here.
    fn forward(&self, message: &Value, body: &[u8]) {
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let request = message
            .get("id")
            .filter(|_| !method.is_empty())
            .map(|id| Request {
                id,
                method,
                host_elicits_urls: self.elicits.load(Ordering::Relaxed),
            });
        if self.is_unopened() && !self.open_late() {
            return self.answer_alone(request.as_ref());
        }
        let refusal = match self.send(body, &mut self.to_host()) {
            Ok(()) => return,
            Err(refusal) => refusal,
        };
        match (refusal, &request) {
            (Refusal::Login { id, url, reason }, Some(r)) => {
                if method == "initialize" {
                    return self.open_alone(message, &reason, &url);
                }
                self.host.login_required(
                    r,
                    Elicitation {
                        id: &id,
                        url: &url,
                        reason: &reason,
                    },
                );
            }
            (Refusal::Login { url, reason, .. }, None) => {
                eprintln!("keyport mcp bridge: {reason}: open {url}");
            }
            (Refusal::Failed(text), Some(r)) => self.host.error(r.id, INTERNAL_ERROR, &text, None),
            (Refusal::Failed(text), None) => eprintln!("keyport mcp bridge: {text}"),
        }
    }

    fn is_unopened(&self) -> bool {
        self.unopened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// No login yet: the bridge answers `initialize` itself, with the link in its
    /// instructions, and keeps the request to open the real session later.
    fn open_alone(&self, initialize: &Value, reason: &str, url: &str) {
        let version = initialize
            .pointer("/params/protocolVersion")
            .cloned()
            .unwrap_or(json!("2025-11-25"));
        *self
            .unopened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(initialize.clone());
        self.host.send(
            &json!({"jsonrpc": "2.0", "id": initialize["id"], "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": true}},
                "serverInfo": {"name": format!("keyport bridge to {}", self.name),
                    "version": env!("CARGO_PKG_VERSION")},
                "instructions": format!("{reason}: open {url}. The tools appear once you have."),
            }}),
        );
    }

    /// While the session is unopened: `ping` and `tools/list` are answered here (no
    /// tools yet), anything else as a login that is still missing.
    fn answer_alone(&self, request: Option<&Request<'_>>) {
        let Some(r) = request else { return };
        match r.method {
            "ping" => self
                .host
                .send(&json!({"jsonrpc": "2.0", "id": r.id, "result": {}})),
            "tools/list" => self
                .host
                .send(&json!({"jsonrpc": "2.0", "id": r.id, "result": {"tools": []}})),
            _ => match self.token(None) {
                Ok(Grant::Login { id, url, reason }) => self.host.login_required(
                    r,
                    Elicitation {
                        id: &id,
                        url: &url,
                        reason: &reason,
                    },
                ),
                Ok(Grant::Token(_) | Grant::Missing) => self.host.error(
                    r.id,
                    INTERNAL_ERROR,
                    "the MCP server could not be reached to open the session",
                    None,
                ),
                Err(e) => self.host.error(r.id, INTERNAL_ERROR, &e, None),
            },
        }
    }

    /// Opens the real session with the host's `initialize` once a login exists, and tells
    /// the host its tool list changed. `false` while there is still no login.
    fn open_late(&self) -> bool {
        let mut unopened = self
            .unopened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(initialize) = unopened.as_ref() else {
            return true;
        };
        if !self.signed_in() {
            return false;
        }
        let mut replay = initialize.clone();
        replay["id"] = json!(LATE_INITIALIZE);
        let mut answered = false;
        let sent = self.send(replay.to_string().as_bytes(), &mut |m: Value| {
            answered |= m.get("result").is_some();
        });
        if sent.is_err() || !answered {
            return false;
        }
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        if self
            .send(initialized.to_string().as_bytes(), &mut self.to_host())
            .is_err()
        {
            return false;
        }
        *unopened = None;
        drop(unopened);
        self.host
            .send(&json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}));
        eprintln!(
            "keyport mcp bridge: signed in; the session with {} is open",
            self.remote.url()
        );
        true
    }

    /// The server's own stream (its notifications and requests), reopened when it ends,
    /// until the host goes away or the server says it has none. While the session waits
    /// for a login, it opens the session as soon as there is one.
    fn listen(&self) {
        let mut pause = Duration::from_millis(250);
        let mut refused: Option<String> = None;
        while self.listening.load(Ordering::Relaxed) {
            if self.is_unopened() && !self.open_late() {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            let token = match self.token(refused.take().as_deref()) {
                Ok(Grant::Token(token)) => token,
                Ok(Grant::Login { .. } | Grant::Missing) | Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            match self
                .remote
                .listen(token.expose_secret(), &mut self.to_host())
            {
                Outcome::NoStream | Outcome::StepUp(_) => return,
                Outcome::Unauthorized(_) => {
                    refused = Some(crate::service::fingerprint(token.expose_secret()));
                }
                Outcome::Delivered => pause = Duration::from_millis(250),
                Outcome::Failed(text) => {
                    eprintln!("keyport mcp bridge: {text}");
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
            std::thread::sleep(pause);
        }
    }
}

/// Why a message did not reach the server.
enum Refusal {
    Login {
        id: String,
        url: String,
        reason: String,
    },
    Failed(String),
}

/// Relays between the host on stdio and the server `name` until stdin closes.
pub fn run(keyport: Client, name: &str, entity: &str) -> Result<(), CliError> {
    let servers: Page<McpServerDto> = keyport.get("/api/v1/mcp/servers")?;
    let server = servers
        .items
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            CliError::new(format!(
                "keyport knows no MCP server named {name:?}; add it with `keyport mcp add {name} URL`"
            ))
        })?;
    eprintln!("keyport mcp bridge: {name} ({}) for {entity}", server.url);
    let bridge = Arc::new(Bridge {
        keyport,
        name: name.to_string(),
        entity: entity.to_string(),
        remote: Remote::new(server.url),
        host: Host::new(),
        elicits: AtomicBool::new(false),
        listening: AtomicBool::new(false),
        unopened: Mutex::new(None),
    });
    let mut in_flight: Vec<JoinHandle<()>> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| CliError::new(format!("cannot read stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                bridge
                    .host
                    .error(&Value::Null, PARSE_ERROR, &format!("not JSON: {e}"), None);
                continue;
            }
        };
        in_flight.retain(|h| !h.is_finished());
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let is_request = !method.is_empty() && message.get("id").is_some();
        if method == "initialize" {
            bridge
                .elicits
                .store(reply::elicits_urls(&message), Ordering::Relaxed);
        }
        // Requests run side by side; `initialize`, notifications and responses go in the
        // order the host sent them, each before the next message is read.
        if is_request && method != "initialize" {
            let bridge = Arc::clone(&bridge);
            in_flight.push(std::thread::spawn(move || {
                bridge.forward(&message, line.as_bytes());
            }));
            continue;
        }
        if method == "notifications/initialized" && bridge.is_unopened() {
            // The session opens later, with its own `initialized`.
        } else {
            bridge.forward(&message, line.as_bytes());
        }
        if method == "notifications/initialized" && !bridge.listening.swap(true, Ordering::Relaxed)
        {
            let bridge = Arc::clone(&bridge);
            std::thread::spawn(move || bridge.listen());
        }
    }
    bridge.listening.store(false, Ordering::Relaxed);
    for handle in in_flight {
        let _ = handle.join();
    }
    if bridge.remote.in_session()
        && let Ok(Grant::Token(token)) = bridge.token(None)
    {
        bridge.remote.close(token.expose_secret());
    }
    Ok(())
}
