//! Response shaping: what of a provider's answer an action hands the model. A raw answer
//! is often mostly noise to a model (GitHub's issue list repeats every user's twenty URLs;
//! Gmail's message is a tree of base64url MIME parts), so an action file may declare a
//! [`Shape`]:
//!
//! - a string is a JSON pointer into the value, where a `*` segment maps the rest of the
//!   pointer over an array (`/labels/*/name` → the label names);
//! - an object `{"from", "code", "fields"}` takes the value at `from` (default: all of
//!   it), and — for each element when that is an array, else for the value itself — runs
//!   the named [`Code`] shaper if there is one, then builds an object of `fields`
//!   (output name → shape), leaving out the fields the answer lacks.
//!
//! Code shapers are few, small and named; each is a pure function of one JSON value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// A shaper written in Rust, for answers a projection cannot make readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// A Gmail `Message` resource → its headers by name and its decoded text
    /// (see [`super::gmail::readable_message`]).
    GmailMessage,
}

impl Code {
    fn apply(self, value: &Value) -> Value {
        match self {
            Code::GmailMessage => super::gmail::readable_message(value),
        }
    }
}

/// One shape, as an action file spells it.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Shape {
    Pointer(String),
    Object(ShapeObject),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeObject {
    /// JSON pointer (with `*` segments) to the value to shape; default the whole value.
    #[serde(default)]
    pub from: Option<String>,
    /// A Rust shaper run on the value (each element of an array) before `fields`.
    #[serde(default)]
    pub code: Option<Code>,
    /// Output name → shape of the value (each element of an array).
    #[serde(default)]
    pub fields: Option<BTreeMap<String, Shape>>,
}

/// Why a shape is malformed, naming where in it (`shape.fields.labels`).
pub fn check(at: &str, shape: &Shape) -> Result<(), String> {
    match shape {
        Shape::Pointer(p) => check_pointer(at, p),
        Shape::Object(obj) => {
            if let Some(from) = &obj.from {
                check_pointer(&format!("{at}.from"), from)?;
            }
            if obj.code.is_none() && obj.fields.is_none() {
                return Err(format!("{at}: needs code or fields"));
            }
            for (name, field) in obj.fields.iter().flatten() {
                if name.is_empty() {
                    return Err(format!("{at}.fields: a field needs a name"));
                }
                check(&format!("{at}.fields.{name}"), field)?;
            }
            Ok(())
        }
    }
}

fn check_pointer(at: &str, pointer: &str) -> Result<(), String> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{at}: a JSON pointer must be empty or start with '/'"
        ))
    }
}

/// `value` shaped by `shape`; `None` when the pointer finds nothing.
pub fn apply(shape: &Shape, value: &Value) -> Option<Value> {
    match shape {
        Shape::Pointer(p) => select(value, p),
        Shape::Object(obj) => {
            let picked = match &obj.from {
                Some(from) => select(value, from)?,
                None => value.clone(),
            };
            Some(match picked {
                Value::Array(items) => {
                    Value::Array(items.iter().map(|item| each(obj, item)).collect())
                }
                other => each(obj, &other),
            })
        }
    }
}

fn each(obj: &ShapeObject, value: &Value) -> Value {
    let coded;
    let value = match obj.code {
        Some(code) => {
            coded = code.apply(value);
            &coded
        }
        None => value,
    };
    match &obj.fields {
        None => value.clone(),
        Some(fields) => {
            let mut out = Map::new();
            for (name, field) in fields {
                if let Some(v) = apply(field, value).filter(|v| !v.is_null()) {
                    out.insert(name.clone(), v);
                }
            }
            Value::Object(out)
        }
    }
}

/// The value at a JSON pointer whose `*` segments map the rest over an array's elements
/// (elements where the rest finds nothing are left out).
pub fn select(value: &Value, pointer: &str) -> Option<Value> {
    if pointer.is_empty() {
        return Some(value.clone());
    }
    let Some(star) = pointer.find("/*").filter(|&i| {
        let end = i + 2;
        end == pointer.len() || pointer[end..].starts_with('/')
    }) else {
        return value.pointer(pointer).cloned();
    };
    let (head, rest) = (&pointer[..star], &pointer[star + 2..]);
    let items = value.pointer(head)?.as_array()?;
    Some(Value::Array(
        items.iter().filter_map(|item| select(item, rest)).collect(),
    ))
}
