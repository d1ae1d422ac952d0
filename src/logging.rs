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
//!
//! The access log ([`request`]: a line per HTTP request) is the one line written on every
//! request, so it skips tracing's generic formatting: the same line, byte for byte, is
//! laid out in a reused buffer (the date and time to the second formatted once a second
//! per thread) and handed to the same writer. It obeys the same filter, as target
//! `keyport::http::guard` at level INFO. On a terminal (coloured output) tracing writes it.

use std::cell::RefCell;
use std::io::{BufWriter, Write as _};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
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
        .with_writer(writer.clone())
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
    if !ansi {
        let _ = ACCESS.set(writer);
    }
    Flush { _worker: worker }
}

/// Where access-log lines go when keyport lays them out itself (not on a terminal).
static ACCESS: OnceLock<NonBlocking> = OnceLock::new();

thread_local! {
    /// The line being laid out, and the second its date and time prefix stands for.
    static LINE: RefCell<(Vec<u8>, u64, String)> = const { RefCell::new((Vec::new(), u64::MAX, String::new())) };
}

/// Logs one answered request: method, path (never the query), status and milliseconds.
#[expect(
    clippy::disallowed_methods,
    reason = "a log line carries the wall clock, as tracing's own timestamps do"
)]
pub fn request(method: &str, path: &str, status: u16, ms: u64) {
    if !tracing::enabled!(target: "keyport::http::guard", tracing::Level::INFO) {
        return;
    }
    let Some(writer) = ACCESS.get() else {
        tracing::info!(target: "keyport::http::guard", method, path, status, ms, "request");
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    LINE.with_borrow_mut(|(line, second, prefix)| {
        if *second != now.as_secs() {
            *second = now.as_secs();
            *prefix = second_prefix(now.as_secs());
        }
        line.clear();
        line.extend_from_slice(prefix.as_bytes());
        let mut digits = itoa::Buffer::new();
        let micros = digits.format(1_000_000 + now.subsec_micros());
        line.push(b'.');
        line.extend_from_slice(&micros.as_bytes()[1..]);
        line.extend_from_slice(b"Z  INFO request method=");
        line.extend_from_slice(method.as_bytes());
        line.extend_from_slice(b" path=");
        for &b in path.as_bytes() {
            // A request line holds visible ASCII only; anything else is not written raw.
            line.push(if b.is_ascii_graphic() { b } else { b'?' });
        }
        line.extend_from_slice(b" status=");
        line.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
        line.extend_from_slice(b" ms=");
        line.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
        line.push(b'\n');
        let _ = writer.clone().write_all(line);
    });
}

/// `2026-12-03T07:14:56`: a UTC date and time to the second, as tracing writes it.
fn second_prefix(unix_secs: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix_secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::second_prefix;

    #[test]
    fn the_prefix_is_tracings_date_and_time_to_the_second() {
        assert_eq!(second_prefix(0), "1970-01-01T00:00:00");
        assert_eq!(second_prefix(1_764_745_696), "2025-12-03T07:08:16");
        assert_eq!(second_prefix(951_782_400), "2000-02-29T00:00:00");
    }
}
