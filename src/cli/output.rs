//! Printing: aligned tables for people, the API's JSON for programs (`--json`).

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// A value as table text: strings bare, null empty, everything else as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

pub fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for row in rows {
        t.add_row(row);
    }
    println!("{t}");
}

/// Rows of `items` picking `fields` from each object.
pub fn rows(items: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    items["items"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|item| fields.iter().map(|f| cell(&item[*f])).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// `key: value` lines for one object.
pub fn details(value: &Value, fields: &[(&str, &str)]) {
    let width = fields
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    for (label, field) in fields {
        let text = cell(&value[*field]);
        if !text.is_empty() {
            println!("{label:width$}  {text}");
        }
    }
}
