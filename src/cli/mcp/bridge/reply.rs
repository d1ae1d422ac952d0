//! What the bridge itself says to the host: JSON-RPC errors and tool results for what the
//! remote server could not be asked, one message per line on stdout.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Value, json};

/// The MCP spec's code for "authorize at this URL first" (URL-mode elicitation).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;
/// JSON-RPC's internal error: the remote server could not be asked.
pub const INTERNAL_ERROR: i64 = -32603;

/// The host's end of the bridge: messages written whole, one per line, never interleaved.
pub struct Host {
    out: Mutex<std::io::Stdout>,
}

impl Host {
    pub fn new() -> Host {
        Host {
            out: Mutex::new(std::io::stdout()),
        }
    }

    /// Writes one message as one line. A host that has gone away ends nothing here: the
    /// bridge stops when its stdin closes.
    pub fn send(&self, message: &Value) {
        let line = message.to_string();
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = writeln!(out, "{line}").and_then(|()| out.flush());
        if let Err(e) = written {
            eprintln!("keyport mcp bridge: cannot write to the host: {e}");
        }
    }

    pub fn error(&self, id: &Value, code: i64, message: &str, data: Option<Value>) {
        let mut error = json!({"code": code, "message": message});
        if let Some(data) = data {
            error["data"] = data;
        }
        self.send(&json!({"jsonrpc": "2.0", "id": id, "error": error}));
    }

    /// A login is needed first: URL elicitation where the host can do it; else, for a
    /// tool call, a tool error carrying the link (so a model can show it); else the
    /// elicitation error all the same, whose message holds the link.
    pub fn login_required(&self, request: &Request<'_>, elicitation: Elicitation<'_>) {
        let text = format!("{}: open {}", elicitation.reason, elicitation.url);
        if !request.host_elicits_urls && request.method == "tools/call" {
            self.send(&json!({"jsonrpc": "2.0", "id": request.id, "result": {
                "content": [{"type": "text", "text": text}],
                "isError": true,
            }}));
            return;
        }
        let data = json!({"elicitations": [{
            "mode": "url",
            "elicitationId": elicitation.id,
            "url": elicitation.url,
            "message": elicitation.reason,
        }]});
        self.error(request.id, URL_ELICITATION_REQUIRED, &text, Some(data));
    }
}

/// The request a reply answers.
pub struct Request<'a> {
    pub id: &'a Value,
    pub method: &'a str,
    /// The host declared URL-mode elicitation in its `initialize`.
    pub host_elicits_urls: bool,
}

/// A link the user must open, and why.
pub struct Elicitation<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub reason: &'a str,
}

/// Whether an `initialize` request's capabilities include URL-mode elicitation.
pub fn elicits_urls(initialize: &Value) -> bool {
    initialize
        .pointer("/params/capabilities/elicitation/url")
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_elicitation_is_read_from_the_capabilities() {
        let with = json!({"params": {"capabilities": {"elicitation": {"url": {}}}}});
        let form_only = json!({"params": {"capabilities": {"elicitation": {}}}});
        assert!(elicits_urls(&with));
        assert!(!elicits_urls(&form_only));
        assert!(!elicits_urls(&json!({"params": {}})));
    }
}
