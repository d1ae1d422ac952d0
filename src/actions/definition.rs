//! The shape of an action definition file and the checks serde cannot express: the name
//! is the app's upper-case slug, the app exists, every `{placeholder}` of the path is a
//! declared, required string or integer input, every input has exactly one destination,
//! and both schemas are well-formed JSON Schema.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::shape::{self, Shape};
use super::{Action, ActionError};
use crate::providers::Catalog;

/// One file: the actions of one app.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The app's catalog key.
    app: String,
    actions: Vec<Definition>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "DELETE")]
    Delete,
}

impl Method {
    pub fn as_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
        }
    }

    /// Whether requests with this method carry a body.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

/// A request-building step written in Rust, for bodies a template cannot express.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Gmail `users.messages.send`: an RFC 2822 message, base64url-encoded into `raw`.
    GmailRawMessage,
}

impl Transform {
    /// The inputs this transform consumes.
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Transform::GmailRawMessage => super::gmail::INPUTS,
        }
    }
}

/// MCP's tool annotations, declared by every action (a missing one stops the load): whether
/// it only reads, may destroy or overwrite, can be repeated with no further effect, and
/// reaches outside keyport (every built-in action calls an app's API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// Whether an action only reads the app's data or changes it: what a key limited to
/// reading methods (`allowedMethods: ["GET"]`) may run. Declared by every action, and
/// checked against its hints (a read action is `read_only`, a write action is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Read,
    Write,
}

/// Follow-up reads of a listing action: for each of the first `limit` elements of the
/// array at `each`, `GET path` (its `{placeholders}` filled from the element's members)
/// with the fixed `query`; a successful answer replaces the element.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expand {
    pub each: String,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub limit: usize,
}

/// Most follow-up requests one action may make.
pub const MAX_EXPAND: usize = 50;

/// One action as its file spells it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Upper-case slug starting with the app's key: `GITHUB_CREATE_AN_ISSUE`.
    pub name: String,
    pub display_name: String,
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the action does to the app's data, for MCP hosts deciding when to ask the user.
    pub hints: Hints,
    /// `read` or `write`: what a key restricted to reading methods may run.
    pub access: Effect,
    pub method: Method,
    /// Appended to the integration's base URL; `{input}` placeholders are path inputs.
    pub path: String,
    /// Inputs sent in the query string (arrays repeat the parameter).
    #[serde(default)]
    pub query: Vec<String>,
    /// Inputs sent as members of the JSON body.
    #[serde(default)]
    pub body: Vec<String>,
    /// Input name → the name the provider uses on the wire, for query and body inputs.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// A fixed JSON body in which the string `"$body"` stands for the object of body inputs
    /// (GraphQL: `{"query": "…", "variables": {"input": "$body"}}`).
    #[serde(default)]
    pub body_template: Option<Value>,
    #[serde(default)]
    pub transform: Option<Transform>,
    /// JSON pointer into the response of what becomes `data` (default: all of it).
    #[serde(default)]
    pub data_pointer: Option<String>,
    /// What of `data` the model is handed (see [`super::shape`]); default all of it.
    #[serde(default)]
    pub shape: Option<Shape>,
    /// For a list that answers with ids: one GET per listed item, its answer put in the
    /// item's place before shaping (Gmail's message list → the messages).
    #[serde(default)]
    pub expand: Option<Expand>,
    /// JSON pointer to a boolean that must be `true` for success (Slack's `/ok`).
    #[serde(default)]
    pub success_pointer: Option<String>,
    /// JSON pointer to an error the provider reports with a 2xx status (GraphQL `errors`).
    #[serde(default)]
    pub error_pointer: Option<String>,
    /// JSON Schema of the input: `{"title", "type": "object", "properties", "required"}`.
    pub parameters: Value,
    /// JSON Schema of `data`.
    pub response: Value,
}

pub(super) fn parse_file(
    file: &str,
    text: &str,
    catalog: &Catalog,
) -> Result<Vec<Action>, ActionError> {
    let fail = |action: &str, reason: String| ActionError::definition(file, action, reason);
    let parsed: File = serde_json::from_str(text)
        .map_err(|e| fail("-", format!("not a valid action file: {e}")))?;
    let app = catalog
        .get(&parsed.app)
        .ok_or_else(|| fail("-", format!("app {:?} is not in the catalog", parsed.app)))?;
    if app.key != parsed.app {
        return Err(fail("-", format!("app must be spelled {:?}", app.key)));
    }
    parsed
        .actions
        .into_iter()
        .map(|def| {
            let name = def.name.clone();
            check(&app.key, def).map_err(|reason| fail(&name, reason))
        })
        .collect()
}

/// The `{placeholders}` of a path template, or why it is malformed.
pub(super) fn placeholders(path: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("path: unbalanced '}'".into());
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "path: unclosed '{'".to_string())?;
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("path: bad placeholder {{{name}}}"));
        }
        names.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(names)
}

fn check_pointer(field: &str, pointer: Option<&String>) -> Result<(), String> {
    match pointer {
        Some(p) if !p.is_empty() && !p.starts_with('/') => Err(format!(
            "{field}: a JSON pointer must be empty or start with '/'"
        )),
        _ => Ok(()),
    }
}

/// A schema's own shape: a titled object (for parameters) or any titled schema, valid
/// against its meta-schema.
fn check_schema(field: &str, schema: &Value, object: bool) -> Result<(), String> {
    let obj = schema
        .as_object()
        .ok_or_else(|| format!("{field}: must be a JSON Schema object"))?;
    if !obj.get("title").is_some_and(Value::is_string) {
        return Err(format!("{field}: needs a title"));
    }
    if object {
        if obj.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!("{field}: type must be \"object\""));
        }
        if !obj.get("properties").is_some_and(Value::is_object) {
            return Err(format!("{field}: needs properties"));
        }
    }
    jsonschema::meta::validate(schema)
        .map_err(|e| format!("{field}: not a valid JSON Schema: {e}"))?;
    Ok(())
}

fn check(app: &str, def: Definition) -> Result<Action, String> {
    check_name_and_path(app, &def)?;
    check_hints(&def)?;
    check_schema("parameters", &def.parameters, true)?;
    check_schema("response", &def.response, false)?;
    for (field, pointer) in [
        ("data_pointer", &def.data_pointer),
        ("success_pointer", &def.success_pointer),
        ("error_pointer", &def.error_pointer),
    ] {
        check_pointer(field, pointer.as_ref())?;
    }
    if let Some(shape) = &def.shape {
        shape::check("shape", shape)?;
    }
    check_expand(&def)?;
    let properties = def.parameters["properties"]
        .as_object()
        .ok_or("parameters: needs properties")?;
    let required = required_inputs(&def.parameters, properties)?;
    let path_params = check_path_params(&def.path, properties, &required)?;
    let placed = place_inputs(&def, &path_params, properties)?;
    check_body(&def, &placed)?;
    let validator = jsonschema::validator_for(&def.parameters)
        .map_err(|e| format!("parameters: cannot compile: {e}"))?;
    Ok(Action {
        app: app.to_string(),
        def,
        path_params,
        validator,
    })
}

/// The name is the app's upper-case slug, the words are there, the path is a plain path.
fn check_name_and_path(app: &str, def: &Definition) -> Result<(), String> {
    let prefix = format!("{}_", app.to_ascii_uppercase());
    let slug_ok = def.name.starts_with(&prefix)
        && def.name.len() > prefix.len()
        && def
            .name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !slug_ok {
        return Err(format!(
            "name must be an upper-case slug starting with {prefix}"
        ));
    }
    if def.display_name.trim().is_empty() || def.description.trim().is_empty() {
        return Err("display_name and description must not be empty".into());
    }
    if !def.path.starts_with('/') || def.path.contains(['?', '#', '\\']) || def.path.contains("..")
    {
        return Err("path: must start with '/' and hold no '?', '#', '\\' or '..'".into());
    }
    Ok(())
}

/// Follow-ups only for a read action, a bounded number, each a plain path.
fn check_expand(def: &Definition) -> Result<(), String> {
    let Some(expand) = &def.expand else {
        return Ok(());
    };
    if def.access != Effect::Read {
        return Err("expand: only a read action follows up".into());
    }
    if expand.limit == 0 || expand.limit > MAX_EXPAND {
        return Err(format!("expand.limit: must be 1 to {MAX_EXPAND}"));
    }
    check_pointer("expand.each", Some(&expand.each))?;
    let path = &expand.path;
    if !path.starts_with('/') || path.contains(['?', '#', '\\']) || path.contains("..") {
        return Err("expand.path: must start with '/' and hold no '?', '#', '\\' or '..'".into());
    }
    placeholders(path).map_err(|e| format!("expand.{e}"))?;
    Ok(())
}

/// The hints agree with each other, with the method and with the declared access: a
/// read-only action neither destroys nor deletes, reading is always idempotent, and only a
/// read action is read-only.
fn check_hints(def: &Definition) -> Result<(), String> {
    let hints = def.hints;
    if hints.read_only && (hints.destructive || !hints.idempotent || def.method == Method::Delete) {
        return Err(
            "hints: a read_only action is idempotent, not destructive, not a DELETE".into(),
        );
    }
    if hints.read_only != (def.access == Effect::Read) {
        return Err("access: a read action is read_only, a write action is not".into());
    }
    Ok(())
}

/// The input schema's `required` names, each a property; every property described.
fn required_inputs<'a>(
    parameters: &'a Value,
    properties: &Map<String, Value>,
) -> Result<BTreeSet<&'a str>, String> {
    let required: BTreeSet<&str> = match parameters.get("required") {
        None => BTreeSet::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or("parameters.required: must list names"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("parameters.required: must be an array".into()),
    };
    for name in &required {
        if !properties.contains_key(*name) {
            return Err(format!("parameters.required: {name} is not a property"));
        }
    }
    for (name, schema) in properties {
        if !schema.get("description").is_some_and(Value::is_string) {
            return Err(format!("parameters.{name}: needs a description"));
        }
    }
    Ok(required)
}

/// The path's placeholders: each a required string or integer input.
fn check_path_params(
    path: &str,
    properties: &Map<String, Value>,
    required: &BTreeSet<&str>,
) -> Result<Vec<String>, String> {
    let path_params = placeholders(path)?;
    for name in &path_params {
        let schema = properties
            .get(name)
            .ok_or_else(|| format!("path: {{{name}}} is not a declared input"))?;
        if !required.contains(name.as_str()) {
            return Err(format!("path: {{{name}}} must be a required input"));
        }
        let kind = schema.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("string" | "integer")) {
            return Err(format!(
                "path: {{{name}}} must be of type string or integer"
            ));
        }
    }
    Ok(path_params)
}

/// Every input goes exactly one place (path, query, body or transform): input → place.
fn place_inputs<'a>(
    def: &'a Definition,
    path_params: &'a [String],
    properties: &Map<String, Value>,
) -> Result<BTreeMap<&'a str, &'static str>, String> {
    let mut placed: BTreeMap<&str, &str> = BTreeMap::new();
    let transform_inputs = def.transform.map(Transform::inputs).unwrap_or_default();
    let destinations = [
        (
            "path",
            path_params.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        ("query", def.query.iter().map(String::as_str).collect()),
        ("body", def.body.iter().map(String::as_str).collect()),
        ("transform", transform_inputs.to_vec()),
    ];
    for (place, names) in destinations {
        for name in names {
            if !properties.contains_key(name) {
                return Err(format!("{place}: {name} is not a declared input"));
            }
            if let Some(before) = placed.insert(name, place) {
                return Err(format!("input {name} goes to both {before} and {place}"));
            }
        }
    }
    for name in properties.keys() {
        if !placed.contains_key(name.as_str()) {
            return Err(format!(
                "input {name} goes nowhere (path, query, body or transform)"
            ));
        }
    }
    Ok(placed)
}

/// Renames name query or body inputs; a body only where the method carries one, with a
/// `"$body"` slot in the template when there are body inputs.
fn check_body(def: &Definition, placed: &BTreeMap<&str, &str>) -> Result<(), String> {
    for name in def.rename.keys() {
        if !matches!(placed.get(name.as_str()), Some(&"query" | &"body")) {
            return Err(format!("rename: {name} is not a query or body input"));
        }
    }
    let sends_body = !def.body.is_empty() || def.transform.is_some() || def.body_template.is_some();
    if sends_body && !def.method.has_body() {
        return Err(format!("a {:?} request carries no body", def.method));
    }
    if let Some(template) = &def.body_template
        && !def.body.is_empty()
        && !template.to_string().contains("\"$body\"")
    {
        return Err("body_template: has body inputs but no \"$body\" slot".into());
    }
    Ok(())
}
