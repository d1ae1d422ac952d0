//! Log setup: `tracing` to stderr, filtered by the configured log filter (`--log`,
//! `KEYPORT_LOG` or the config file's `log`; `info` by default, resolved in `config.rs`).
//! Nothing in keyport logs secret values, headers, bodies or query strings.

use tracing_subscriber::EnvFilter;

/// `filter` was checked by `Config::validate`; were it not a filter, `info` applies.
pub fn init(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
