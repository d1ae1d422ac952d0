//! Log setup: `tracing` to stderr, filtered by `KEYPORT_LOG` (or the config file's `log`),
//! `info` by default. Nothing in keyport logs secret values, headers, bodies or query strings.

use tracing_subscriber::EnvFilter;

pub fn init(file_filter: Option<&str>) {
    let filter = std::env::var("KEYPORT_LOG")
        .ok()
        .or(file_filter.map(str::to_string))
        .unwrap_or_else(|| "info".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
