//! The outbound policy, defined once. keyport has two HTTP clients built from it: the
//! blocking [`Net`](super::Net) for control-plane calls (token endpoints, revocation,
//! who-am-I checks), which run on the blocking pool anyway, and the async
//! [`Upstream`](super::Upstream) for the data plane (the proxy and named actions), which
//! waits on actix's own runtime without holding a thread. Whatever the client, the rules
//! are these: the whole exchange is bounded by `timeout`, connecting by `connect_timeout`,
//! an answer larger than `max_body` is refused, keyport names itself with `user_agent`,
//! and a redirect is never followed (a 3xx comes back as is).

use std::time::Duration;

/// Largest response body read from a provider (token endpoints answer in a few hundred bytes;
/// proxied API responses may be larger).
pub const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// How long keyport waits for a provider unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long establishing a connection (DNS, TCP, TLS) may take at most.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What keyport sends as `User-Agent` unless the request names one.
pub const USER_AGENT: &str = concat!("keyport/", env!("CARGO_PKG_VERSION"));

/// How every outbound request is sent; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The whole exchange: connecting, sending, the answer and its body.
    pub timeout: Duration,
    /// Connecting, within `timeout`.
    pub connect_timeout: Duration,
    /// The largest answer body read; a larger one is an error, not a truncated answer.
    pub max_body: u64,
    pub user_agent: &'static str,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            max_body: MAX_RESPONSE,
            user_agent: USER_AGENT,
        }
    }
}

impl Policy {
    /// The default policy with another overall timeout.
    pub fn with_timeout(timeout: Duration) -> Policy {
        Policy {
            timeout,
            ..Policy::default()
        }
    }

    /// The connect timeout, never longer than the whole exchange may take.
    pub fn connect_within(&self) -> Duration {
        self.connect_timeout.min(self.timeout)
    }
}
