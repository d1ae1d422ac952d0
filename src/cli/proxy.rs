//! `keyport proxy <connection-id|app> [--entity E] METHOD PATH [-d BODY] [-H 'Name: value']...`:
//! one request through a connection, curl-like. keyport adds the credential; this prints
//! the provider's status line, headers and body. The exit status is non-zero only when
//! keyport itself refuses or fails (4xx/5xx from keyport), not for the provider's answer.

use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::{CliError, CliResult, output};
use crate::http::dto::{ProxyBody, ProxyParameterDto, ProxyResultDto};

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// A connection id, or an app key (then the entity's default ACTIVE connection to it, else its oldest).
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

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The proxy body for `args`: a connection id, or an app (and entity).
fn request(args: &ProxyArgs) -> Result<ProxyBody, CliError> {
    let mut parameters = Vec::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| CliError::new(format!("-H {header:?}: expected 'Name: value'")))?;
        parameters.push(ProxyParameterDto {
            location: "header".into(),
            name: name.trim().to_string(),
            value: Value::String(value.trim().to_string()),
        });
    }
    let mut body = ProxyBody {
        endpoint: args.path.clone(),
        method: args.method.to_ascii_uppercase(),
        parameters: Some(parameters),
        ..ProxyBody::default()
    };
    let target = args.target.trim();
    if uuid::Uuid::parse_str(target).is_ok() {
        body.connected_account_id = Some(target.to_string());
    } else {
        body.app_name = Some(args.target.clone());
        body.entity_id = args.entity.clone();
    }
    if let Some(data) = &args.data {
        body.body = Some(body_arg(data)?);
    }
    Ok(body)
}

pub fn run(client: &Client, args: ProxyArgs, as_json: bool) -> CliResult {
    let answer: ProxyResultDto = client.post("/api/v2/actions/proxy", &request(&args)?)?;
    output::print(&answer, as_json, |answer| {
        println!("HTTP {} {}", answer.status, reason(answer.status));
        for (name, value) in &answer.headers {
            println!("{name}: {value}");
        }
        println!();
        match &answer.data {
            Value::Null => {}
            Value::String(text) => println!("{text}"),
            other => output::json(other),
        }
    });
    Ok(())
}
