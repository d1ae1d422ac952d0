//! Printing: aligned tables and `label  value` lines for people, the API's JSON for
//! programs (`--json`).

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;

/// An API answer as indented JSON.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("keyport: cannot print the answer as JSON: {e}"),
    }
}

/// An API value as one line of JSON (a stream of records, one per line).
pub fn json_line<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("keyport: cannot print the answer as JSON: {e}"),
    }
}

/// `value` as the API's JSON with `--json`, else as `human` shows it to a person.
pub fn print<T: Serialize>(value: &T, as_json: bool, human: impl FnOnce(&T)) {
    if as_json { json(value) } else { human(value) }
}

/// A JSON value as table text: strings bare, null empty, lists comma-joined, everything
/// else as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// An optional text as table text.
pub fn opt(value: Option<&str>) -> String {
    value.unwrap_or_default().to_string()
}

/// One field of an answer as a person reads it: its label and its text. Each noun declares
/// its fields once and lists them for its details and for its table's columns.
pub type Field<T> = (&'static str, fn(&T) -> String);

pub fn table<H: ToString>(headers: &[H], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(ToString::to_string));
    for row in rows {
        t.add_row(row);
    }
    println!("{t}");
}

/// A table of `items`, one row each, one column per field, headed by its label in capitals.
pub fn table_of<T>(items: &[T], columns: &[Field<T>]) {
    let headers: Vec<String> = columns.iter().map(|(l, _)| l.to_uppercase()).collect();
    let rows = items
        .iter()
        .map(|item| columns.iter().map(|(_, text)| text(item)).collect())
        .collect();
    table(&headers, rows)
}

/// `label  value` lines of `item`'s `fields`, labels aligned; empty values left out.
pub fn details_of<T>(item: &T, fields: &[Field<T>]) {
    let lines: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, text)| (*label, text(item)))
        .collect();
    details(&lines);
}

/// `label  value` lines, labels aligned; empty values left out.
fn details(lines: &[(&str, String)]) {
    let width = lines
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    for (label, text) in lines {
        if !text.is_empty() {
            println!("{label:width$}  {text}");
        }
    }
}

/// `  key = value` lines under a heading, when there are any.
pub fn pairs<'a>(heading: &str, pairs: impl IntoIterator<Item = (&'a String, String)>) {
    let mut pairs = pairs.into_iter().peekable();
    if pairs.peek().is_some() {
        println!("{heading}");
        for (key, value) in pairs {
            println!("  {key} = {value}");
        }
    }
}
