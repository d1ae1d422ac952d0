//! Field lists and the one validator every caller-supplied configuration goes through.
//!
//! An integration (what a developer configures) and a connection (what a customer supplies)
//! are both described by a list of [`FieldSpec`]s, the shape Composio calls
//! `ExpectedFieldInput`. [`validate`] checks a JSON object against such a list in one pass:
//! unknown keys are refused, defaults are filled in, every value must have its declared kind,
//! and secret values come out in a separate map so the caller cannot store them in the clear
//! by accident. Error reasons never quote a value, so a mistyped password is never echoed.
//! [`render_template`] fills `{variable}` placeholders of catalog URLs with connection values;
//! it only accepts values that can't move a URL to another host or path.

use std::fmt;

use serde_json::{Map, Value};

/// Longest string value [`validate`] accepts, in bytes (tokens and keys are far shorter).
pub const MAX_STRING_LEN: usize = 64 * 1024;

/// The JSON kind of a field's value, spelled on the wire as Composio spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    String,
    Boolean,
    Integer,
    Object,
    Array,
}

crate::domain::wire_names!(FieldKind {
    String => "string",
    Boolean => "boolean",
    Integer => "integer",
    Object => "object",
    Array => "array",
});

/// One input an integration or a connection expects.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub kind: FieldKind,
    pub required: bool,
    pub is_secret: bool,
    /// `true` for what the customer supplies when connecting, `false` for what the developer
    /// configures on the integration.
    pub expected_from_customer: bool,
    pub default: Option<Value>,
    /// For string fields drawn from a closed set (`token_auth`, `in`, …): the allowed values.
    /// Empty means any string.
    pub choices: Vec<String>,
}

/// The outcome of [`validate`]: values to store as they are, and values to seal.
#[derive(Clone, Default, PartialEq)]
pub struct Validated {
    pub plain: Map<String, Value>,
    pub secret: Map<String, Value>,
}

impl fmt::Debug for Validated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a Map<String, Value>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, "[redacted]")))
                    .finish()
            }
        }
        f.debug_struct("Validated")
            .field("plain", &self.plain)
            .field("secret", &Redacted(&self.secret))
            .finish()
    }
}

/// A field that failed validation. `reason` describes the problem, never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    /// Stable machine-readable code: a field is always the caller's input.
    pub fn code(&self) -> &'static str {
        "invalid_input"
    }

    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Validate caller input against a field list: unknown keys rejected, required ones present
/// (after defaults), each value of the right kind (strings non-empty and trimmed-equal, no
/// control chars), defaults applied; secret fields split out.
///
/// A JSON `null` counts as absent. An object or array field also accepts a string holding the
/// JSON text of one (a service-account key pasted into a form), which is parsed.
pub fn validate(fields: &[FieldSpec], input: &Map<String, Value>) -> Result<Validated, FieldError> {
    if let Some(unknown) = input
        .keys()
        .find(|key| !fields.iter().any(|f| &f.name == *key))
    {
        return Err(FieldError::new(printable_name(unknown), "unknown field"));
    }
    let mut out = Validated::default();
    for field in fields {
        let value = match input.get(&field.name).filter(|v| !v.is_null()) {
            Some(value) => check_value(field, value)?,
            None => match &field.default {
                Some(default) => default.clone(),
                None if field.required => {
                    return Err(FieldError::new(&field.name, "is required"));
                }
                None => continue,
            },
        };
        let target = if field.is_secret {
            &mut out.secret
        } else {
            &mut out.plain
        };
        target.insert(field.name.clone(), value);
    }
    Ok(out)
}

fn check_value(field: &FieldSpec, value: &Value) -> Result<Value, FieldError> {
    let fail = |reason: String| FieldError::new(&field.name, reason);
    let expected = || fail(format!("expected {}", article(field.kind)));
    match field.kind {
        FieldKind::String => {
            let s = value.as_str().ok_or_else(expected)?;
            check_string(s).map_err(|r| fail(r.to_string()))?;
            if !field.choices.is_empty() && !field.choices.iter().any(|c| c == s) {
                return Err(fail(format!("must be one of {}", field.choices.join(", "))));
            }
            Ok(value.clone())
        }
        FieldKind::Boolean => value
            .is_boolean()
            .then(|| value.clone())
            .ok_or_else(expected),
        FieldKind::Integer => (value.is_i64() || value.is_u64())
            .then(|| value.clone())
            .ok_or_else(expected),
        FieldKind::Object | FieldKind::Array => {
            let fits = |v: &Value| match field.kind {
                FieldKind::Object => v.is_object(),
                _ => v.is_array(),
            };
            if fits(value) {
                return Ok(value.clone());
            }
            let text = value.as_str().ok_or_else(expected)?;
            if text.len() > MAX_STRING_LEN {
                return Err(fail(format!("is longer than {MAX_STRING_LEN} bytes")));
            }
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) if fits(&parsed) => Ok(parsed),
                _ => Err(fail(format!(
                    "expected {} (or a string holding its JSON text)",
                    article(field.kind)
                ))),
            }
        }
    }
}

/// The rules every string value obeys; the reason is static so it can't leak the value.
fn check_string(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        Err("must not be empty")
    } else if s.len() > MAX_STRING_LEN {
        Err("is too long")
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else if s.trim() != s {
        Err("must not start or end with whitespace")
    } else {
        Ok(())
    }
}

fn article(kind: FieldKind) -> String {
    match kind {
        FieldKind::Integer | FieldKind::Object | FieldKind::Array => format!("an {kind}"),
        FieldKind::String | FieldKind::Boolean => format!("a {kind}"),
    }
}

/// A caller-chosen key, made safe to print: escaped and cut to a sane length.
fn printable_name(key: &str) -> String {
    let escaped: String = key.escape_debug().collect();
    if escaped.chars().count() > 64 {
        format!("{}…", escaped.chars().take(64).collect::<String>())
    } else {
        escaped
    }
}

/// Resolve `{variable}` templates in a URL with connection values; unknown variable → error
/// naming it.
///
/// A value must be a string of ASCII letters, digits, `.`, `-` and `_` that starts and ends
/// with a letter or digit: enough for a subdomain, a data-centre name or a site domain, and
/// unable to smuggle in `/`, `@`, `#` or `?` that would send credentials somewhere else.
pub fn render_template(template: &str, vars: &Map<String, Value>) -> Result<String, FieldError> {
    let mut out = String::with_capacity(template.len());
    for piece in template_pieces(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var(name) => {
                let value = vars
                    .get(name)
                    .ok_or_else(|| FieldError::new(name, "no value for this template variable"))?;
                let value = value
                    .as_str()
                    .ok_or_else(|| FieldError::new(name, "expected a string"))?;
                check_variable_value(value).map_err(|reason| FieldError::new(name, reason))?;
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

/// The names of the `{variable}`s a template uses, in order of appearance (repeats kept).
pub fn template_variables(template: &str) -> Result<Vec<&str>, FieldError> {
    Ok(template_pieces(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Var(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Whether `value` may be substituted for a template variable (see [`render_template`]).
pub fn check_variable_value(value: &str) -> Result<(), &'static str> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let edges_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if value.is_empty() {
        Err("must not be empty")
    } else if value.len() > 253 {
        Err("is too long")
    } else if !value.chars().all(ok_char) || !edges_ok || value.contains("..") {
        Err("must be letters, digits, '.', '-' or '_', starting and ending with a letter or digit")
    } else {
        Ok(())
    }
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn template_pieces(template: &str) -> Result<Vec<Piece<'_>>, FieldError> {
    let malformed = |reason: &str| FieldError::new("template", reason.to_string());
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(malformed("unmatched '}'"));
        }
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| malformed("unterminated '{'"))?;
        let name = &after[..close];
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(malformed(
                "a variable name between braces must be lower-case letters, digits or '_'",
            ));
        }
        pieces.push(Piece::Var(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: FieldKind) -> FieldSpec {
        FieldSpec {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            kind,
            required: true,
            is_secret: false,
            expected_from_customer: true,
            default: None,
            choices: Vec::new(),
        }
    }

    fn obj(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn fields() -> Vec<FieldSpec> {
        let mut password = field("password", FieldKind::String);
        password.is_secret = true;
        let mut pkce = field("pkce", FieldKind::Boolean);
        pkce.default = Some(json!(true));
        let mut note = field("note", FieldKind::String);
        note.required = false;
        let mut token_auth = field("token_auth", FieldKind::String);
        token_auth.required = false;
        token_auth.choices = vec!["client_secret_post".into(), "none".into()];
        vec![
            field("username", FieldKind::String),
            password,
            pkce,
            note,
            token_auth,
            field("port", FieldKind::Integer),
        ]
    }

    #[test]
    fn accepts_and_splits_secrets_and_applies_defaults() {
        let input = obj(json!({"username": "ann", "password": "hunter2", "port": 443}));
        let v = validate(&fields(), &input).unwrap();
        assert_eq!(
            v.plain,
            obj(json!({"username": "ann", "pkce": true, "port": 443}))
        );
        assert_eq!(v.secret, obj(json!({"password": "hunter2"})));
        let shown = format!("{v:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("password") && shown.contains("[redacted]"));
    }

    #[test]
    fn an_explicit_value_beats_the_default_and_null_means_absent() {
        let input =
            obj(json!({"username": "a", "password": "p", "port": 1, "pkce": false, "note": null}));
        let v = validate(&fields(), &input).unwrap();
        assert_eq!(v.plain["pkce"], json!(false));
        assert!(!v.plain.contains_key("note"));
    }

    #[test]
    fn missing_required_names_the_field() {
        let err = validate(&fields(), &obj(json!({"username": "a", "port": 1}))).unwrap_err();
        assert_eq!(err.field, "password");
        assert_eq!(err.to_string(), "password: is required");
    }

    #[test]
    fn wrong_kind_names_the_field_and_never_the_value() {
        let cases = [
            (
                json!({"username": 5, "password": "p", "port": 1}),
                "username",
            ),
            (
                json!({"username": "a", "password": ["s3cr3t"], "port": 1}),
                "password",
            ),
            (
                json!({"username": "a", "password": "p", "port": "1"}),
                "port",
            ),
            (
                json!({"username": "a", "password": "p", "port": 1.5}),
                "port",
            ),
            (
                json!({"username": "a", "password": "p", "port": 1, "pkce": "yes"}),
                "pkce",
            ),
        ];
        for (input, name) in cases {
            let err = validate(&fields(), &obj(input)).unwrap_err();
            assert_eq!(err.field, name);
            assert!(!err.reason.contains("s3cr3t"));
        }
    }

    #[test]
    fn strings_must_be_clean() {
        for bad in ["", " padded", "padded ", "line\nbreak", "nul\0", "tab\tbed"] {
            let input = obj(json!({"username": "a", "password": bad, "port": 1}));
            let err = validate(&fields(), &input).unwrap_err();
            assert_eq!(err.field, "password", "{bad:?}");
            assert!(!err.to_string().contains(bad) || bad.is_empty(), "{err}");
        }
        let long = "x".repeat(MAX_STRING_LEN + 1);
        let input = obj(json!({"username": long, "password": "p", "port": 1}));
        assert_eq!(validate(&fields(), &input).unwrap_err().field, "username");
    }

    #[test]
    fn choices_are_enforced() {
        let ok = obj(json!({"username": "a", "password": "p", "port": 1, "token_auth": "none"}));
        assert!(validate(&fields(), &ok).is_ok());
        let bad = obj(json!({"username": "a", "password": "p", "port": 1, "token_auth": "basic"}));
        let err = validate(&fields(), &bad).unwrap_err();
        assert_eq!(err.field, "token_auth");
        assert!(err.reason.contains("client_secret_post"));
    }

    #[test]
    fn unknown_field_rejected() {
        let input = obj(json!({"username": "a", "password": "p", "port": 1, "pasword": "x"}));
        let err = validate(&fields(), &input).unwrap_err();
        assert_eq!(err.field, "pasword");
        assert_eq!(err.reason, "unknown field");
        let weird = obj(json!({"a\nb": 1}));
        assert_eq!(validate(&fields(), &weird).unwrap_err().field, "a\\nb");
    }

    #[test]
    fn object_and_array_fields_accept_json_text() {
        let mut creds = field("credentials_json", FieldKind::Object);
        creds.is_secret = true;
        let list = field("urls", FieldKind::Array);
        let specs = [creds, list];
        let input = obj(json!({
            "credentials_json": "{\n  \"type\": \"service_account\"\n}\n",
            "urls": ["https://a.example"],
        }));
        let v = validate(&specs, &input).unwrap();
        assert_eq!(
            v.secret["credentials_json"],
            json!({"type": "service_account"})
        );
        assert_eq!(v.plain["urls"], json!(["https://a.example"]));
        for bad in [json!("[1]"), json!("not json"), json!(3)] {
            let input = obj(json!({"credentials_json": bad, "urls": []}));
            assert_eq!(
                validate(&specs, &input).unwrap_err().field,
                "credentials_json"
            );
        }
    }

    #[test]
    fn render_template_substitutes_and_names_unknown_variables() {
        let vars = obj(json!({"subdomain": "acme", "site": "datadoghq.eu"}));
        assert_eq!(
            render_template("https://{subdomain}.zendesk.com/api/v2", &vars).unwrap(),
            "https://acme.zendesk.com/api/v2"
        );
        assert_eq!(
            render_template("https://api.{site}", &vars).unwrap(),
            "https://api.datadoghq.eu"
        );
        assert_eq!(
            render_template("https://plain.example", &vars).unwrap(),
            "https://plain.example"
        );
        let err = render_template("https://{shop}.myshopify.com", &vars).unwrap_err();
        assert_eq!(err.field, "shop");
        assert!(err.to_string().starts_with("shop: "));
    }

    #[test]
    fn render_template_refuses_values_that_move_the_url() {
        for bad in [
            "evil.com/x",
            "evil.com#",
            "a@b",
            "a?b",
            "",
            ".x",
            "x-",
            "a..b",
            "a b",
        ] {
            let vars = obj(json!({"subdomain": bad}));
            let err = render_template("https://{subdomain}.zendesk.com", &vars).unwrap_err();
            assert_eq!(err.field, "subdomain", "{bad:?}");
        }
        let vars = obj(json!({"subdomain": 7}));
        assert!(render_template("https://{subdomain}.x.com", &vars).is_err());
    }

    #[test]
    fn malformed_templates_are_errors() {
        let vars = obj(json!({"a": "x"}));
        for bad in [
            "https://{a",
            "https://a}",
            "https://{}",
            "https://{A}",
            "https://{a-b}",
        ] {
            assert!(render_template(bad, &vars).is_err(), "{bad}");
            assert!(template_variables(bad).is_err(), "{bad}");
        }
        assert_eq!(
            template_variables("https://{a}.{b}/{a}").unwrap(),
            ["a", "b", "a"]
        );
    }
}
