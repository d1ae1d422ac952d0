//! The data plane's client: awc, actix's own HTTP client, so a proxied call waits on the
//! worker's event loop and holds no thread while the provider thinks. awc's `Client` is
//! `!Send` (it keeps its connection pool in an `Rc`), so each actix worker builds its own
//! [`Upstream`] from one shared [`UpstreamConfig`]: the [`Policy`] and the TLS
//! configuration (rustls with ring — the crypto provider keyport already uses — and the
//! webpki roots, as the blocking client has).
//!
//! It keeps the policy exactly as [`Net`](super::Net) does: no redirect followed (awc
//! follows up to 10 by default; here none), one deadline over the whole exchange including
//! the body, the body limit (a larger answer is [`NetError::TooLarge`], never a truncated
//! one), HTTP/1.1, `User-Agent` and `Accept: */*` unless the request sets them, no cap
//! on simultaneous connections (awc's default of 100 per worker would queue calls), and a
//! literal IP address is connected to as is, with no lookup (awc looks up a bracketed IPv6
//! literal on a thread otherwise). Names are looked up as the standard library does, on
//! the blocking pool for the length of the lookup. A proxy set in the environment is used
//! as the blocking client uses it (`tunnel.rs`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use actix_tls::connect::{Connector as TcpConnector, Resolve, Resolver};
use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::http::header::{ACCEPT, HeaderName, HeaderValue, USER_AGENT};
use futures_util::future::LocalBoxFuture;

use super::tunnel::{Tunnels, proxy_from_env};
use super::{NetError, Policy, literal_ip};

/// What every worker's client is built from; cheap to clone.
#[derive(Clone)]
pub struct UpstreamConfig {
    policy: Policy,
    tls: Arc<rustls::ClientConfig>,
    /// The proxy every connection goes through (hosts in `NO_PROXY` excepted).
    proxy: Option<ureq::Proxy>,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("policy", &self.policy)
            .field("proxied", &self.proxy.is_some())
            .finish_non_exhaustive()
    }
}

impl UpstreamConfig {
    /// The policy, with the proxy the environment names (as the blocking client reads it).
    pub fn new(policy: Policy) -> Result<UpstreamConfig, NetError> {
        UpstreamConfig::with_proxy(policy, proxy_from_env())
    }

    /// The policy with this proxy (or none) instead of the environment's.
    pub fn with_proxy(
        policy: Policy,
        proxy: Option<ureq::Proxy>,
    ) -> Result<UpstreamConfig, NetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::Other(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(UpstreamConfig {
            policy,
            tls: Arc::new(tls),
            proxy,
        })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }
}

/// One worker's client.
pub struct Upstream {
    client: awc::Client,
    policy: Policy,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub fn new(config: &UpstreamConfig) -> Upstream {
        let policy = config.policy;
        let direct = TcpConnector::new(Resolver::custom(LiteralFirst)).service();
        let tcp = Tunnels::new(direct, config.proxy.clone(), policy.user_agent);
        let connector = awc::Connector::new()
            .connector(tcp)
            .rustls_0_23(config.tls.clone())
            .timeout(policy.connect_within())
            .handshake_timeout(policy.connect_within())
            .limit(0);
        let client = awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .timeout(policy.timeout)
            .no_default_headers()
            .finish();
        Upstream { client, policy }
    }

    /// Sends one request and reads the whole answer, within the policy's timeout;
    /// redirects come back as 3xx responses, never followed.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, NetError> {
        tokio::time::timeout(self.policy.timeout, self.exchange(request))
            .await
            .unwrap_or(Err(NetError::Timeout))
    }

    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, NetError> {
        let (parts, body) = request.into_parts();
        let method = awc::http::Method::from_bytes(parts.method.as_str().as_bytes())
            .map_err(|_| NetError::Other(format!("method {} not sendable", parts.method)))?;
        let mut outgoing = self.client.request(method, parts.uri.to_string());
        self.copy_headers(&parts.headers, outgoing.headers_mut())?;
        let carries_body = !body.is_empty()
            || matches!(
                parts.method,
                http::Method::POST | http::Method::PUT | http::Method::PATCH
            );
        let sent = if carries_body {
            outgoing.send_body(body)
        } else {
            outgoing.send()
        };
        let mut response = sent.await.map_err(send_error)?;
        let limit = usize::try_from(self.policy.max_body).unwrap_or(usize::MAX);
        let bytes = response
            .body()
            .limit(limit)
            .await
            .map_err(|e| payload_error(e, self.policy.max_body))?;
        let mut answer = http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers().iter() {
            answer = answer.header(name.as_str(), value.as_bytes());
        }
        answer
            .body(bytes.to_vec())
            .map_err(|e| NetError::Other(format!("unreadable answer: {e}")))
    }

    /// The request's headers (repeats kept), plus `User-Agent` and `Accept` when it has none.
    fn copy_headers(
        &self,
        from: &http::HeaderMap,
        to: &mut awc::http::header::HeaderMap,
    ) -> Result<(), NetError> {
        for (name, value) in from {
            let name = HeaderName::from_bytes(name.as_str().as_bytes())
                .map_err(|_| NetError::Other(format!("header name {name}")))?;
            let value = HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| NetError::Other(format!("header value for {name}")))?;
            to.append(name, value);
        }
        if !to.contains_key(USER_AGENT)
            && let Ok(agent) = HeaderValue::from_str(self.policy.user_agent)
        {
            to.insert(USER_AGENT, agent);
        }
        if !to.contains_key(ACCEPT) {
            to.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        Ok(())
    }
}

fn send_error(e: SendRequestError) -> NetError {
    match e {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => {
            NetError::Timeout
        }
        SendRequestError::Connect(e) => NetError::Connect(e.to_string()),
        SendRequestError::Send(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            NetError::Timeout
        }
        SendRequestError::Send(io) => NetError::Connect(io.to_string()),
        other => NetError::Other(other.to_string()),
    }
}

fn payload_error(e: PayloadError, limit: u64) -> NetError {
    match e {
        PayloadError::Overflow => NetError::TooLarge(limit),
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => NetError::Timeout,
        other => NetError::Other(other.to_string()),
    }
}

/// A literal address is its own answer; a name is looked up on the blocking pool.
struct LiteralFirst;

impl Resolve for LiteralFirst {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            if let Some(ip) = literal_ip(host) {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
            let target = format!("{host}:{port}");
            let found = tokio::task::spawn_blocking(move || target.to_socket_addrs()).await??;
            Ok(found.collect())
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;

    /// A server on 127.0.0.1 that reads a request and writes `answer` on every
    /// connection, or never answers when `answer` is `None`; returns a URL on it.
    fn server(answer: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.read(&mut [0u8; 4096]);
                match answer {
                    Some(answer) => drop(stream.write_all(answer.as_bytes())),
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        url
    }

    fn send(url: &str) -> Result<http::Response<Vec<u8>>, NetError> {
        let policy = Policy {
            timeout: Duration::from_millis(500),
            max_body: 16,
            ..Policy::default()
        };
        let config = UpstreamConfig::with_proxy(policy, None)?;
        let request = http::Request::get(url).body(Vec::new()).unwrap();
        actix_web::rt::System::new()
            .block_on(async move { Upstream::new(&config).send(request).await })
    }

    #[test]
    fn redirects_come_back_as_they_are() {
        let url = server(Some(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n",
        ));
        let response = send(&url).unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(
            response.headers()["location"],
            "http://127.0.0.1:9/elsewhere"
        );
    }

    #[test]
    fn answers_within_the_limit_pass_and_larger_ones_are_refused() {
        let exact = server(Some(
            "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
        ));
        assert_eq!(send(&exact).unwrap().body(), b"0123456789abcdef");
        let declared = server(Some("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n"));
        assert!(matches!(send(&declared), Err(NetError::TooLarge(16))));
        let streamed = server(Some(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n",
        ));
        assert!(matches!(send(&streamed), Err(NetError::TooLarge(16))));
    }

    #[test]
    fn a_silent_upstream_times_out() {
        assert!(matches!(send(&server(None)), Err(NetError::Timeout)));
    }

    #[test]
    fn https_urls_start_a_tls_handshake_naming_the_host() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut hello = vec![0u8; 4096];
            let n = stream.read(&mut hello).unwrap_or(0);
            tx.send(hello[..n].to_vec()).unwrap();
        });
        assert!(send(&format!("https://localhost:{port}/x")).is_err());
        let hello = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // A TLS handshake record (ClientHello) with the host as its server name.
        assert_eq!(hello.first(), Some(&0x16));
        assert!(hello.windows(9).any(|w| w == b"localhost"));
    }

    #[test]
    fn literal_addresses_are_their_own_answer() {
        let found = actix_web::rt::System::new().block_on(async {
            LiteralFirst
                .lookup("[::1]", 443)
                .await
                .map_err(|e| e.to_string())
        });
        assert_eq!(
            found.unwrap(),
            vec!["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
    }
}
