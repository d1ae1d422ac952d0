//! `keyport proxy <connection-id|app> [--entity E] METHOD PATH [-d BODY] [-H 'Name: value']...`:
//! one request through a connection, curl-like. keyport adds the credential; this prints
//! the provider's status line, headers and body. The exit status is non-zero only when
//! keyport itself refuses or fails (4xx/5xx from keyport), not for the provider's answer.

use clap::Args;
use serde_json::{Value, json};

use super::client::Client;
use super::{CliError, CliResult, output};

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// A connection id, or an app key (then the entity's newest ACTIVE connection to it).
    pub target: String,
    /// With an app: whose connection to use (default: "default").
    #[arg(long)]
    pub entity: Option<String>,
    /// GET, POST, PUT, PATCH, DELETE or HEAD.
    pub method: String,
    /// Path relative to the integration's base URL, with an optional query string.
    pub path: String,
    /// Request body: JSON (sent as JSON), other text (sent as text), or @FILE.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,
    /// A request header, 'Name: value' (repeatable). Credential headers are ignored.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

/// `-d` as JSON when it parses, else text; `@FILE` reads the file.
pub fn body_arg(raw: &str) -> Result<Value, CliError> {
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("cannot read {path}: {e}")))?,
        None => raw.to_string(),
    };
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn reason(status: u64) -> &'static str {
    u16::try_from(status)
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

pub fn run(client: &Client, args: ProxyArgs, as_json: bool) -> CliResult {
    let mut parameters = Vec::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| CliError::new(format!("-H {header:?}: expected 'Name: value'")))?;
        parameters.push(json!({"in": "header", "name": name.trim(), "value": value.trim()}));
    }
    let mut body = json!({
        "endpoint": args.path,
        "method": args.method.to_ascii_uppercase(),
        "parameters": parameters,
    });
    if uuid::Uuid::parse_str(args.target.trim()).is_ok() {
        body["connectedAccountId"] = json!(args.target.trim());
    } else {
        body["appName"] = json!(args.target);
        body["entityId"] = json!(args.entity);
    }
    if let Some(data) = &args.data {
        body["body"] = body_arg(data)?;
    }
    let answer = client.post("/api/v2/actions/proxy", &body)?;
    if as_json {
        output::json(&answer);
        return Ok(());
    }
    let status = answer["status"].as_u64().unwrap_or(0);
    println!("HTTP {status} {}", reason(status));
    if let Some(headers) = answer["headers"].as_object() {
        for (name, value) in headers {
            println!("{name}: {}", output::cell(value));
        }
    }
    println!();
    match &answer["data"] {
        Value::Null => {}
        Value::String(text) => println!("{text}"),
        other => output::json(other),
    }
    Ok(())
}
