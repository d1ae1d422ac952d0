//! keyport's outbound HTTP, under one [`Policy`] (no redirects followed — the oauth2
//! crate's SSRF warning —, timeouts, a cap on response bodies). [`Net`] is the blocking
//! client for the control plane: a shared ureq agent (connection reuse) speaking
//! `http::Request<Vec<u8>>` / `http::Response<Vec<u8>>`, which is exactly the oauth2
//! crate's `HttpRequest` / `HttpResponse`, so it serves token exchange, revocation and
//! who-am-I checks, and tests can substitute it with a closure. [`Upstream`] is the async
//! client for the data plane (proxy and named actions), in `upstream.rs`.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

mod policy;
mod tunnel;
mod upstream;

pub use policy::{MAX_RESPONSE, Policy};
pub use upstream::{Upstream, UpstreamConfig};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the upstream did not answer in time")]
    Timeout,
    #[error("could not reach the upstream: {0}")]
    Connect(String),
    #[error("the upstream response is larger than {0} bytes")]
    TooLarge(u64),
    #[error("HTTP error: {0}")]
    Other(String),
}

impl NetError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            NetError::Timeout => "upstream_timeout",
            NetError::Connect(_) | NetError::TooLarge(_) | NetError::Other(_) => "upstream_failed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Net {
    agent: Agent,
    policy: Policy,
}

impl Default for Net {
    fn default() -> Self {
        Net::with_policy(Policy::default())
    }
}

impl Net {
    /// The default policy with this timeout and body limit.
    pub fn new(timeout: Duration, max_body: u64) -> Self {
        Net::with_policy(Policy {
            max_body,
            ..Policy::with_timeout(timeout)
        })
    }

    pub fn with_policy(policy: Policy) -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(policy.timeout))
            .timeout_connect(Some(policy.connect_within()))
            .user_agent(policy.user_agent)
            .build();
        let agent = Agent::with_parts(config, DefaultConnector::default(), LiteralFirst::default());
        Net { agent, policy }
    }

    /// The policy this client was built with, for the async client to share.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Sends one request; redirects come back as 3xx responses, never followed.
    pub fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, NetError> {
        debug_assert!(
            crate::inline::check().is_ok(),
            "a blocking request inside an inline attempt: guard the caller with inline::check"
        );
        let response = self.agent.run(request).map_err(map_error)?;
        let (parts, body) = response.into_parts();
        let max_body = self.policy.max_body;
        let mut reader = body.into_reader().take(max_body + 1);
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                NetError::Timeout
            } else {
                NetError::Other(e.to_string())
            }
        })?;
        if bytes.len() as u64 > max_body {
            return Err(NetError::TooLarge(max_body));
        }
        Ok(http::Response::from_parts(parts, bytes))
    }

    /// The client as a closure the oauth2 crate accepts (`SyncHttpClient`).
    pub fn oauth2_client(
        &self,
    ) -> impl Fn(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, NetError> + '_ {
        move |request| self.send(request)
    }
}

/// ureq's default resolver looks every request's host up on a new thread whenever a
/// timeout is set, even when the host is a literal IP address and a pooled connection is
/// then reused: a thread created and joined per request. A literal address needs no
/// lookup, so it is answered here at once; names still go to the default resolver.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal_addr(uri) {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The address a host names literally (`127.0.0.1`, `[::1]`), or `None` for a name.
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// The socket address of a URI whose host is a literal IP address.
fn literal_addr(uri: &Uri) -> Option<SocketAddr> {
    let ip = literal_ip(uri.host()?)?;
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

fn map_error(e: ureq::Error) -> NetError {
    match e {
        ureq::Error::Timeout(_) => NetError::Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            NetError::Connect(e.to_string())
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => NetError::Timeout,
        ureq::Error::Io(io) => NetError::Connect(io.to_string()),
        ureq::Error::BodyExceedsLimit(limit) => NetError::TooLarge(limit),
        other => NetError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(uri: &str) -> Option<String> {
        literal_addr(&uri.parse().ok()?).map(|a| a.to_string())
    }

    #[test]
    fn literal_addresses_skip_the_lookup_and_names_do_not() {
        assert_eq!(
            addr("http://127.0.0.1:8080/x").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(addr("http://127.0.0.1/x").as_deref(), Some("127.0.0.1:80"));
        assert_eq!(addr("https://[::1]/x").as_deref(), Some("[::1]:443"));
        assert_eq!(addr("http://[::1]:9/").as_deref(), Some("[::1]:9"));
        assert_eq!(addr("https://api.github.com/user"), None);
        assert_eq!(addr("http://localhost:8080/"), None);
        assert_eq!(addr("http://127.0.0.1.nip.io/"), None);
    }
}
