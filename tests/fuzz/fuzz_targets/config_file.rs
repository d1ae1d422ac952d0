//! `config.toml` in the data dir, parsed into keyport's `Settings` exactly as
//! `config::load_file` does (`toml::from_str`, unknown keys refused).
#![no_main]

use keyport::config::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = toml::from_str::<Settings>(text);
    }
});
