//! A user's provider file (`providers/*.json` in the data dir), through the same parser and
//! checks `Catalog::load` runs on each file; every app that passes must also yield its
//! derived field lists and render its URLs without a panic.
#![no_main]

use keyport::providers::{Catalog, render_template};
use libfuzzer_sys::fuzz_target;
use serde_json::Map;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(catalog) = Catalog::parse_user_file("fuzz.json", text) else {
        return;
    };
    for app in catalog.apps() {
        let _ = app.app_id();
        let _ = app.default_scheme();
        for scheme in &app.schemes {
            let _ = scheme.integration_fields();
            let _ = scheme.connection_fields(app);
        }
        if let Some(base_url) = &app.base_url {
            let _ = render_template(base_url, &Map::new());
        }
    }
});
