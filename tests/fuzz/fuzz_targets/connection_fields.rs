//! What a client sends as a connection's `data` or an integration's `authConfig`, checked
//! against the expected fields of a built-in app (`providers::validate`, the check every
//! create and update runs). The first two bytes pick the app and scheme; the rest is JSON.
#![no_main]

use std::sync::LazyLock;

use keyport::providers::{App, Catalog, validate};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

static APPS: LazyLock<Vec<App>> = LazyLock::new(|| match Catalog::builtin() {
    Ok(catalog) => catalog.apps().cloned().collect(),
    Err(e) => panic!("built-in catalog: {e}"),
});

fuzz_target!(|data: &[u8]| {
    let [a, s, rest @ ..] = data else {
        return;
    };
    let apps = &*APPS;
    let app = &apps[usize::from(*a) % apps.len()];
    let scheme = &app.schemes[usize::from(*s) % app.schemes.len()];
    let Ok(input) = serde_json::from_slice::<Map<String, Value>>(rest) else {
        return;
    };
    if let Ok(valid) = validate(&scheme.integration_fields(), &input) {
        let _ = format!("{valid:?}");
    }
    let _ = validate(&scheme.connection_fields(app), &input);
});
