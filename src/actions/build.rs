//! From a validated input to one request, and from the provider's answer to the
//! Composio result (`data`, `successful`, `error`). Pure functions, no I/O.

use jsonschema::error::ValidationErrorKind;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::Action;
use super::ActionError;

type Result<T, E = ActionError> = std::result::Result<T, E>;

/// Everything but RFC 3986 unreserved characters is encoded in a path input.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The request an action sends: an endpoint relative to the base URL and maybe a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub method: http::Method,
    /// Path (with path inputs filled in and encoded) and query string.
    pub endpoint: String,
    pub body: Option<Value>,
}

/// What an execution reports back, in Composio's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub data: Value,
    pub successful: bool,
    pub error: Option<String>,
}

/// `/a/b` → `a.b`, for messages that name a field of the input.
fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn field_name(pointer: &str, child: Option<&str>) -> String {
    let mut name = String::from("input");
    let path = dotted(pointer);
    if !path.is_empty() {
        name.push('.');
        name.push_str(&path);
    }
    if let Some(child) = child {
        name.push('.');
        name.push_str(child);
    }
    name
}

/// The input `name`, unless it is missing or null.
fn present<'a>(input: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

/// A scalar as query or path text; objects and arrays as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks `input` against a compiled input schema; the error names the first bad field
/// and says why, without echoing the value.
pub fn check_input(validator: &jsonschema::Validator, input: &Value) -> Result<()> {
    if !input.is_object() {
        return Err(ActionError::input("input: must be a JSON object"));
    }
    let mut errors = validator.iter_errors(input);
    let Some(first) = errors.next() else {
        return Ok(());
    };
    let pointer = first.instance_path().as_str().to_string();
    let message = match first.kind() {
        ValidationErrorKind::Required { property } => {
            let child = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            format!("{}: is required", field_name(&pointer, Some(&child)))
        }
        _ => format!("{}: {}", field_name(&pointer, None), first.masked()),
    };
    let more = errors.count();
    Err(ActionError::input(if more > 0 {
        format!("{message} (and {more} more problem(s) with the input)")
    } else {
        message
    }))
}

impl Action {
    /// Checks `input` against the action's schema; see [`check_input`].
    pub fn validate_input(&self, input: &Value) -> Result<()> {
        check_input(&self.validator, input)
    }

    /// The request for a validated `input`.
    pub fn plan(&self, input: &Map<String, Value>) -> Result<Planned> {
        let mut endpoint = self.path(input)?;
        if let Some(query) = self.query(input) {
            endpoint.push('?');
            endpoint.push_str(&query);
        }
        Ok(Planned {
            method: self.def.method.as_http(),
            endpoint,
            body: self.body(input)?,
        })
    }

    /// The input `name`, else its schema's `default` (a default is sent, so the provider's
    /// own default never applies where the action documents another).
    fn given<'a>(&'a self, input: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
        present(input, name).or_else(|| {
            self.def.parameters["properties"][name]
                .get("default")
                .filter(|v| !v.is_null())
        })
    }

    /// The name an input goes by on the wire.
    fn wire(&self, name: &str) -> String {
        self.def
            .rename
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// The path with each `{input}` filled in as one encoded segment.
    fn path(&self, input: &Map<String, Value>) -> Result<String> {
        fill_path(&self.def.path, input, "input")
    }

    /// The endpoints of an expanding action's follow-ups for its first answer `data`: one
    /// per element of the listed array (up to the limit) that has every placeholder.
    pub fn follow_ups(&self, data: &Value) -> Vec<String> {
        let Some(expand) = &self.def.expand else {
            return Vec::new();
        };
        let Some(items) = data.pointer(&expand.each).and_then(Value::as_array) else {
            return Vec::new();
        };
        let query = (!expand.query.is_empty()).then(|| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&expand.query)
                .finish()
        });
        items
            .iter()
            .take(expand.limit)
            .filter_map(|item| {
                let mut endpoint = fill_path(&expand.path, item.as_object()?, "item").ok()?;
                if let Some(query) = &query {
                    endpoint.push('?');
                    endpoint.push_str(query);
                }
                Some(endpoint)
            })
            .collect()
    }

    /// `data` with the listed elements replaced by their follow-ups' answers, in order
    /// (`None`, a failed follow-up, leaves the element as the list gave it).
    pub fn merge_follow_ups(&self, data: &mut Value, answers: Vec<Option<Value>>) {
        let Some(expand) = &self.def.expand else {
            return;
        };
        let Some(items) = data.pointer_mut(&expand.each).and_then(Value::as_array_mut) else {
            return;
        };
        // Follow-ups were made for the elements that had every placeholder, in order.
        let mut answers = answers.into_iter();
        for item in items.iter_mut().take(expand.limit) {
            let fillable = item
                .as_object()
                .is_some_and(|o| fill_path(&expand.path, o, "item").is_ok());
            if !fillable {
                continue;
            }
            if let Some(Some(answer)) = answers.next() {
                *item = answer;
            }
        }
    }

    /// The query string of the query inputs given (arrays repeat the parameter), if any.
    fn query(&self, input: &Map<String, Value>) -> Option<String> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut any_query = false;
        for name in &self.def.query {
            let Some(value) = self.given(input, name) else {
                continue;
            };
            let key = self.wire(name);
            let values = match value {
                Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
                other => vec![other],
            };
            for value in values {
                query.append_pair(&key, &text_of(value));
                any_query = true;
            }
        }
        any_query.then(|| query.finish())
    }

    /// The JSON body, for a method that carries one: the body inputs given, plus what the
    /// transform makes, in the template's `"$body"` slot if there is a template.
    fn body(&self, input: &Map<String, Value>) -> Result<Option<Value>> {
        let def = &self.def;
        if !def.method.has_body() {
            return Ok(None);
        }
        let mut fields = Map::new();
        for name in &def.body {
            if let Some(value) = self.given(input, name) {
                fields.insert(self.wire(name), value.clone());
            }
        }
        if let Some(transform) = def.transform {
            fields.extend(super::gmail::apply(transform, input)?);
        }
        Ok(Some(match &def.body_template {
            Some(template) => fill_template(template, &fields),
            None => Value::Object(fields),
        }))
    }

    /// The Composio result for an upstream answer: `data` (the response, or the part
    /// `data_pointer` selects), `successful` (2xx, the success flag true, no reported
    /// error) and `error`.
    pub fn outcome(&self, status: u16, body: Value) -> Outcome {
        let def = &self.def;
        let pointed = |pointer: &Option<String>| {
            pointer
                .as_deref()
                .and_then(|p| body.pointer(p))
                .filter(|v| !v.is_null())
                .cloned()
        };
        let flag_ok = def
            .success_pointer
            .as_deref()
            .is_none_or(|p| body.pointer(p) == Some(&Value::Bool(true)));
        let reported = pointed(&def.error_pointer);
        let ok_status = (200..300).contains(&status);
        let successful = ok_status && flag_ok && reported.is_none();
        let error = if successful {
            None
        } else if let Some(reported) = reported {
            Some(text_of(&reported))
        } else {
            Some(super::upstream_error(status, &body))
        };
        let data = if ok_status {
            let data = pointed(&def.data_pointer).unwrap_or(body);
            // Only a success is shaped: an error answer is shown whole.
            match &def.shape {
                Some(shape) if successful => {
                    super::shape::apply(shape, &data).unwrap_or(Value::Null)
                }
                _ => data,
            }
        } else {
            body
        };
        Outcome {
            data,
            successful,
            error,
        }
    }
}

/// `template` with each `{name}` filled in from `values` as one encoded path segment;
/// `what` names the source in errors (`input.owner`).
fn fill_path(template: &str, values: &Map<String, Value>, what: &str) -> Result<String> {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let name = &after[..close];
        let value = present(values, name)
            .map(text_of)
            .ok_or_else(|| ActionError::input(format!("{what}.{name}: is required")))?;
        if value.is_empty() || value == "." || value == ".." {
            return Err(ActionError::input(format!(
                "{what}.{name}: must not be empty, '.' or '..'"
            )));
        }
        if value.contains(['/', '\\']) || value.chars().any(char::is_control) {
            return Err(ActionError::input(format!(
                "{what}.{name}: must be one path segment (no '/', '\\' or control characters)"
            )));
        }
        path.extend(utf8_percent_encode(&value, SEGMENT));
        rest = after.get(close + 1..).unwrap_or("");
    }
    path.push_str(rest);
    Ok(path)
}

/// `template` with every string `"$body"` replaced by `fields`.
fn fill_template(template: &Value, fields: &Map<String, Value>) -> Value {
    match template {
        Value::String(s) if s == "$body" => Value::Object(fields.clone()),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_template(v, fields)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_template(v, fields)))
                .collect(),
        ),
        other => other.clone(),
    }
}
