//! Gmail's `users.messages.send` takes the whole email as an RFC 2822 (RFC 5322) message,
//! base64url-encoded into `{"raw": …}`. This transform writes that message from plain
//! inputs: recipients, subject and a text or HTML body. Header values are checked so an
//! input cannot add a header (no CR/LF, no control characters, one address per entry);
//! a non-ASCII subject becomes RFC 2047 encoded-words; the body is sent base64-encoded in
//! UTF-8, so any text survives transport unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value};

use super::ActionError;
use super::Transform;

type Result<T, E = ActionError> = std::result::Result<T, E>;

/// The inputs the transform consumes.
pub const INPUTS: &[&str] = &[
    "recipient_email",
    "extra_recipients",
    "cc",
    "bcc",
    "subject",
    "body",
    "is_html",
];

/// The body members a transform produces from `input`.
pub fn apply(transform: Transform, input: &Map<String, Value>) -> Result<Map<String, Value>> {
    match transform {
        Transform::GmailRawMessage => {
            let message = raw_message(input)?;
            let mut out = Map::new();
            out.insert("raw".into(), Value::String(URL_SAFE.encode(message)));
            Ok(out)
        }
    }
}

/// One mailbox: printable ASCII, at most one address (no ',' or ';'), with an '@'.
fn address(field: &str, raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    let printable = trimmed.bytes().all(|b| (0x20..0x7f).contains(&b));
    if trimmed.is_empty() || !printable {
        return Err(ActionError::input(format!(
            "input.{field}: an address must be printable ASCII without line breaks"
        )));
    }
    if trimmed.contains([',', ';']) || trimmed.matches('@').count() != 1 {
        return Err(ActionError::input(format!(
            "input.{field}: give one address per entry, like a@example.com or Name <a@example.com>"
        )));
    }
    Ok(trimmed.to_string())
}

fn addresses(input: &Map<String, Value>, field: &str) -> Result<Vec<String>> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![address(field, s)?]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| ActionError::input(format!("input.{field}: must list strings")))
                    .and_then(|s| address(field, s))
            })
            .collect(),
        Some(_) => Err(ActionError::input(format!(
            "input.{field}: must be a string or a list of strings"
        ))),
    }
}

/// The subject as a header value: verbatim when short printable ASCII, otherwise
/// RFC 2047 `B` encoded-words of at most 45 bytes each, folded onto continuation lines.
fn subject(raw: &str) -> Result<String> {
    if raw.chars().any(char::is_control) {
        return Err(ActionError::input(
            "input.subject: must not contain line breaks or control characters",
        ));
    }
    if raw.is_ascii() && raw.len() <= 900 {
        return Ok(raw.to_string());
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in raw.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
    }
    Ok(words.join("\r\n "))
}

/// The RFC 2822 message, CRLF line endings.
pub fn raw_message(input: &Map<String, Value>) -> Result<Vec<u8>> {
    let mut to = addresses(input, "recipient_email")?;
    if to.is_empty() {
        return Err(ActionError::input("input.recipient_email: is required"));
    }
    to.extend(addresses(input, "extra_recipients")?);
    let cc = addresses(input, "cc")?;
    let bcc = addresses(input, "bcc")?;
    let subject = subject(input.get("subject").and_then(Value::as_str).unwrap_or(""))?;
    let body = input.get("body").and_then(Value::as_str).unwrap_or("");
    let html = input
        .get("is_html")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let mut message = String::new();
    message.push_str(&format!("To: {}\r\n", to.join(", ")));
    if !cc.is_empty() {
        message.push_str(&format!("Cc: {}\r\n", cc.join(", ")));
    }
    if !bcc.is_empty() {
        message.push_str(&format!("Bcc: {}\r\n", bcc.join(", ")));
    }
    message.push_str(&format!("Subject: {subject}\r\n"));
    message.push_str("MIME-Version: 1.0\r\n");
    let kind = if html { "html" } else { "plain" };
    message.push_str(&format!("Content-Type: text/{kind}; charset=\"UTF-8\"\r\n"));
    message.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let encoded = STANDARD.encode(body.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        message.push_str(&String::from_utf8_lossy(line));
        message.push_str("\r\n");
    }
    Ok(message.into_bytes())
}

/// Text of a message body longer than this many characters is cut (and says so).
const MAX_TEXT_CHARS: usize = 20_000;

/// The headers a reader wants, under lower-case names.
const READABLE_HEADERS: &[&str] = &["From", "To", "Cc", "Subject", "Date"];

/// A Gmail `Message` resource (format `full` or `metadata`) as a model can read it: ids,
/// labels and snippet as they are, the usual headers by name, the first `text/plain` part
/// decoded from base64url (else the first `text/html` one, under `html`), and the
/// attachments' names, types, sizes and ids instead of their bytes. Anything that is not
/// a message comes back unchanged.
pub fn readable_message(message: &Value) -> Value {
    let Some(payload) = message.get("payload").filter(|p| p.is_object()) else {
        return message.clone();
    };
    let mut out = Map::new();
    for key in ["id", "threadId", "labelIds", "snippet"] {
        if let Some(v) = message.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    for header in payload["headers"].as_array().into_iter().flatten() {
        let name = header["name"].as_str().unwrap_or_default();
        if let Some(wanted) = READABLE_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(name))
        {
            out.entry(wanted.to_ascii_lowercase())
                .or_insert_with(|| header["value"].clone());
        }
    }
    let mut parts = Vec::new();
    flatten_parts(payload, &mut parts);
    let text_of = |mime: &str| {
        parts
            .iter()
            .filter(|p| p["mimeType"].as_str() == Some(mime))
            .find_map(|p| part_text(p))
    };
    if let Some(text) = text_of("text/plain") {
        insert_text(&mut out, "text", text);
    } else if let Some(html) = text_of("text/html") {
        insert_text(&mut out, "html", html);
    }
    let attachments: Vec<Value> = parts
        .iter()
        .filter(|p| p["filename"].as_str().is_some_and(|f| !f.is_empty()))
        .map(|p| {
            serde_json::json!({
                "filename": p["filename"],
                "mimeType": p["mimeType"],
                "size": p["body"]["size"],
                "attachmentId": p["body"]["attachmentId"],
            })
        })
        .collect();
    if !attachments.is_empty() {
        out.insert("attachments".into(), Value::Array(attachments));
    }
    Value::Object(out)
}

/// Every part of a MIME tree, depth first, the root included.
fn flatten_parts<'a>(part: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(part);
    for child in part["parts"].as_array().into_iter().flatten() {
        flatten_parts(child, out);
    }
}

/// A part's body data decoded (base64url, padded or not) as UTF-8, lossily.
fn part_text(part: &Value) -> Option<String> {
    let data = part["body"]["data"].as_str()?;
    let trimmed = data.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn insert_text(out: &mut Map<String, Value>, key: &str, text: String) {
    if text.chars().count() > MAX_TEXT_CHARS {
        let cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
        out.insert(key.into(), Value::String(cut));
        out.insert("truncated".into(), Value::Bool(true));
    } else {
        out.insert(key.into(), Value::String(text));
    }
}
