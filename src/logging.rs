//! Log setup: `tracing` to stderr, filtered by the configured log filter (`--log`,
//! `KEYPORT_LOG` or the config file's `log`; `info` by default, resolved in `config.rs`).
//! Nothing in keyport logs secret values, headers, bodies or query strings.
//!
//! Lines are written off the request path: the formatter fills a reused thread-local
//! buffer and hands the line to `tracing-appender`'s non-blocking writer, whose one worker
//! thread writes them to stderr through a `BufWriter`, flushed whenever its queue runs
//! dry (so a burst of lines costs one `write` call, not one each). The writer is lossless:
//! should `QUEUED_LINES` lines be queued, logging waits rather than drops a line. The queue
//! is allocated whole at start, so it is kept short: the worker drains it as it fills. `init` returns
//! the guard that flushes what is queued when dropped; `serve` holds it until it returns,
//! after the server has stopped (a clean SIGTERM included). The guard waits at most one
//! second for the worker, ample for a queue that the worker drains as it fills.

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines queued for the writer before logging waits: about 80 ms of lines at 100,000
/// requests per second, in 256 KiB (tracing-appender's default of 128,000 takes 4 MiB).
const QUEUED_LINES: usize = 8_192;

/// Flushes the queued log lines when dropped: keep it until the process is about to end.
#[must_use = "dropping the guard stops the log writer"]
pub struct Flush {
    _worker: WorkerGuard,
}

impl std::fmt::Debug for Flush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Flush")
    }
}

/// `filter` was checked by `Config::validate`; were it not a filter, `info` applies.
pub fn init(filter: &str) -> Flush {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, worker) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("keyport-log")
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
    Flush { _worker: worker }
}
