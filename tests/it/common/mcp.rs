//! keyport's `/mcp` endpoint as a raw Streamable HTTP client speaks it, for tests that
//! check what an SDK would hide: one POST (`post`), an initialized session (`open`) and
//! a JSON-RPC request in it (`rpc`).

use serde_json::{Value, json};

use super::client::agent;

/// The protocol revision these sessions speak.
pub const REVISION: &str = "2025-11-25";

/// One HTTP exchange at `/mcp`: status, body (JSON when it is), session id.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub session: Option<String>,
}

/// POST `body` to `base`'s `/mcp` with `headers` (and the JSON content type and accept
/// header every request sends).
pub fn post(base: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut response = agent()
        .run(req.body(body.to_string()).expect("request"))
        .expect("POST /mcp");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status: response.status().as_u16(),
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        session,
    }
}

/// The `initialize` request of a raw client.
pub fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": REVISION, "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
}

/// An initialized session of `key` at `base`: the headers every later request sends
/// (authorization, session id, protocol revision, in that order).
pub fn open(base: &str, key: &str) -> Vec<(&'static str, String)> {
    let auth = format!("Bearer {key}");
    let opened = post(base, &[("authorization", &auth)], &initialize().to_string());
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(
        opened.body["result"]["protocolVersion"], REVISION,
        "{}",
        opened.body
    );
    let session = opened.session.expect("a session id");
    let headers = vec![
        ("authorization", auth),
        ("mcp-session-id", session),
        ("mcp-protocol-version", REVISION.to_string()),
    ];
    let note = post(
        base,
        &borrowed(&headers),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(note.status, 202, "{}", note.body);
    headers
}

pub fn borrowed<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// Request `id`, `method` with `params`, in the session `headers` open.
pub fn rpc(
    base: &str,
    headers: &[(&'static str, String)],
    id: u64,
    method: &str,
    params: Value,
) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post(base, &borrowed(headers), &body.to_string())
}

/// The names of the tools a `tools/list` answer offers.
pub fn tool_names(listed: &Value) -> Vec<&str> {
    listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect()
}
