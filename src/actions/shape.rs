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

#[cfg(test)]
mod tests {
    #![expect(clippy::panic, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn shape(value: Value) -> Shape {
        let shape: Shape = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        check("shape", &shape).unwrap_or_else(|e| panic!("{e}"));
        shape
    }

    #[test]
    fn pointers_with_stars_map_over_arrays() {
        let issue = json!({"labels": [{"name": "bug"}, {"id": 2}, {"name": "ui"}], "user": {"login": "octo"}});
        assert_eq!(select(&issue, "/labels/*/name"), Some(json!(["bug", "ui"])));
        assert_eq!(select(&issue, "/user/login"), Some(json!("octo")));
        assert_eq!(select(&issue, ""), Some(issue.clone()));
        assert_eq!(select(&issue, "/nope"), None);
        assert_eq!(
            select(&issue, "/user/*"),
            None,
            "a star over a non-array finds nothing"
        );
        let nested = json!({"a": [{"b": [1, 2]}, {"b": [3]}]});
        assert_eq!(select(&nested, "/a/*/b/*"), Some(json!([[1, 2], [3]])));
    }

    #[test]
    fn fields_project_objects_and_each_element_of_arrays() {
        let s = shape(
            json!({"fields": {"n": "/number", "who": "/user/login", "tags": "/labels/*/name", "gone": "/missing"}}),
        );
        let one = json!({"number": 7, "user": {"login": "a", "url": "x"}, "labels": [{"name": "bug"}], "noise": "…"});
        assert_eq!(
            apply(&s, &one),
            Some(json!({"n": 7, "who": "a", "tags": ["bug"]})),
            "missing fields are left out, the rest dropped"
        );
        let list = json!([one, {"number": 8, "user": null, "labels": []}]);
        assert_eq!(
            apply(&s, &list),
            Some(json!([{"n": 7, "who": "a", "tags": ["bug"]}, {"n": 8, "tags": []}]))
        );
        let nested = shape(json!({"fields": {
            "channels": {"from": "/channels", "fields": {"id": "/id"}},
            "next": "/response_metadata/next_cursor"
        }}));
        let answer = json!({"ok": true, "channels": [{"id": "C1", "x": 1}], "response_metadata": {"next_cursor": "c"}});
        assert_eq!(
            apply(&nested, &answer),
            Some(json!({"channels": [{"id": "C1"}], "next": "c"}))
        );
        let from_missing = shape(json!({"from": "/nope", "fields": {"a": "/a"}}));
        assert_eq!(apply(&from_missing, &answer), None);
    }

    #[test]
    fn malformed_shapes_are_refused_naming_where() {
        for (bad, want) in [
            (json!({"fields": {"a": "no-slash"}}), "shape.fields.a"),
            (json!({"from": "x", "fields": {}}), "shape.from"),
            (json!({"from": "/x"}), "needs code or fields"),
            (json!({"fields": {"": "/a"}}), "needs a name"),
        ] {
            let parsed: Shape = serde_json::from_value(bad).unwrap_or_else(|e| panic!("{e}"));
            let err = check("shape", &parsed).err().unwrap_or_default();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
        assert!(serde_json::from_value::<Shape>(json!({"code": "nope"})).is_err());
        assert!(serde_json::from_value::<Shape>(json!({"pick": ["a"]})).is_err());
    }
}
