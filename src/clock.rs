//! Time, passed in. Everything that decides expiry takes a `Clock` so tests can move time
//! without sleeping; timestamps are stored and sent in one fixed ISO-8601 form with
//! milliseconds and `Z`, which sorts correctly as a string (the Composio SDK sorts by it).
//!
//! This is the only file that reads the system's time: `clippy.toml` disallows
//! `Instant::now`, `SystemTime::now` and `OffsetDateTime::now_utc` everywhere else. Wall
//! time goes through [`Clock`]; elapsed time (measurements, waiting with a deadline)
//! through [`Stopwatch`] and [`Deadline`], which are monotonic and not moved by tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const WIRE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// A source of "now". `Clock::system()` in production; `Clock::manual()` in tests.
#[derive(Clone, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_ms(&self) -> i64 {
        i64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Moves this clock (and its clones) forward; for tests.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn stamp(&self) -> String {
        format_stamp(self.now())
    }
}

/// Measures elapsed real time (monotonic; tests cannot move it).
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the monotonic clock"
    )]
    pub fn start() -> Self {
        Stopwatch(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A moment in monotonic time after which waiting stops.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(wait: Duration) -> Self {
        let started = Stopwatch::start().0;
        Deadline(started.checked_add(wait).unwrap_or(started))
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Stopwatch::start().0)
    }

    pub fn passed(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// A unix time in milliseconds as [`format_stamp`] writes it.
pub fn format_unix_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format_stamp(t)
}

/// An RFC 3339 time as unix milliseconds; `None` if it does not parse.
pub fn parse_unix_ms(text: &str) -> Option<i64> {
    let t =
        OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

pub fn format_stamp(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(WIRE)
        .unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_have_one_fixed_shape() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(format_stamp(t), "2023-11-14T22:13:20.000Z");
        let clock = Clock::system();
        let before = clock.unix();
        clock.advance(std::time::Duration::from_secs(3600));
        assert!(clock.unix() >= before + 3600);
        assert_eq!(clock.stamp().len(), 24);
    }

    #[test]
    fn deadlines_pass() {
        let watch = Stopwatch::start();
        assert!(Deadline::after(Duration::ZERO).passed());
        let later = Deadline::after(Duration::from_secs(60));
        assert!(!later.passed() && later.remaining() <= Duration::from_secs(60));
        assert!(watch.elapsed() < Duration::from_secs(60));
    }
}
