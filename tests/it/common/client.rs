//! keyport's HTTP API as a client calls it: one agent configuration (no redirects, HTTP
//! errors as answers) and `call`, which returns the status and the JSON (or text) body.

use std::time::Duration;

use serde_json::Value;

/// A keep-alive client. Its timeouts are per phase, not global: with a global (or per-call)
/// timeout ureq 3 resolves the host on a new thread for every request, which would make the
/// benches' load generator measure thread creation.
pub fn agent() -> ureq::Agent {
    let limit = Some(Duration::from_secs(60));
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(limit)
        .timeout_send_request(limit)
        .timeout_send_body(limit)
        .timeout_recv_response(limit)
        .timeout_recv_body(limit)
        .build()
        .into()
}

/// `method base+path` with an optional API key and JSON body, on a new agent.
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    call_with(&agent(), (method, &format!("{base}{path}")), key, body)
}

/// `method url` on `agent` (its connections are reused).
pub fn call_with(
    agent: &ureq::Agent,
    (method, url): (&str, &str),
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    let result = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(b.to_string())
                .expect("request"),
        ),
        None => agent.run(req.body(()).expect("request")),
    };
    let mut response = result.expect("HTTP call");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// GET `url` and read the answer as JSON.
pub fn get_json(url: &str) -> Value {
    agent()
        .get(url)
        .call()
        .expect("GET")
        .body_mut()
        .read_json()
        .expect("JSON")
}

/// The message of a JSON error answer (`""` if there is none).
pub fn error_message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

/// What `GET /api/v1/events` sends with `key` (resuming after `last` when given) until
/// `count` events arrived or `within` passed: each event's JSON, with its `id:` line
/// checked against the JSON's `id`.
pub fn events(
    base: &str,
    key: &str,
    last: Option<u64>,
    count: usize,
    within: Duration,
) -> Vec<Value> {
    use std::io::BufRead;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(within))
        .build()
        .into();
    let mut request = agent
        .get(format!("{base}/api/v1/events"))
        .header("x-api-key", key);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let response = request.call().expect("GET /api/v1/events");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let reader = std::io::BufReader::new(response.into_body().into_reader());
    let mut seen = Vec::new();
    let mut id = None;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Some(value) = line.strip_prefix("id: ") {
            id = value.parse::<u64>().ok();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let event: Value = serde_json::from_str(data).expect("event JSON");
            assert_eq!(event["id"].as_u64(), id.take(), "{event}");
            seen.push(event);
            if seen.len() == count {
                break;
            }
        }
    }
    seen
}
