//! Proxy tunnels for the async client, so it goes out the way the blocking client does.
//! ureq reads the proxy from the environment once (`ALL_PROXY`, `HTTPS_PROXY`,
//! `HTTP_PROXY`, and their lower-case forms; hosts in `NO_PROXY` are exempt) and sends
//! every request through an HTTP `CONNECT` tunnel; [`Tunnels`] does the same for awc, reading
//! the setting through ureq so both clients agree on it. It is the TCP connector awc
//! uses: a direct connection (through the literal-first resolver), or a connection to
//! the proxy that asks for a tunnel to the target and hands the tunnel to awc, which then
//! speaks TLS or plain HTTP through it as it would directly.
//!
//! A proxy keyport cannot tunnel through (an `https://` or SOCKS proxy) fails the request
//! instead of being bypassed: a proxy setting is often a fence (the OpenAPI test sends
//! everything to a sentinel this way), and going around it would be a silent leak.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use awc::http::Uri;
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ureq::{Proxy, ProxyProtocol};

/// The largest answer head read from a proxy.
const MAX_ANSWER: usize = 16 * 1024;

type Connecting = Pin<Box<dyn Future<Output = Result<Connection<Uri, TcpStream>, ConnectError>>>>;

/// The proxy from the environment, as the blocking client reads it.
pub(super) fn proxy_from_env() -> Option<Proxy> {
    Proxy::try_from_env()
}

/// awc's TCP connector: direct, or through the configured proxy's `CONNECT` tunnel.
#[derive(Clone)]
pub(super) struct Tunnels {
    direct: ConnectorService,
    proxy: Option<Proxy>,
    user_agent: &'static str,
}

impl Tunnels {
    pub(super) fn new(
        direct: ConnectorService,
        proxy: Option<Proxy>,
        user_agent: &'static str,
    ) -> Tunnels {
        Tunnels {
            direct,
            proxy,
            user_agent,
        }
    }

    /// The proxy to go through for `target`, unless `NO_PROXY` exempts it.
    fn proxy_for(&self, target: &Uri) -> Option<Proxy> {
        let proxy = self.proxy.as_ref()?;
        let exempt = target
            .to_string()
            .parse::<http::Uri>()
            .is_ok_and(|uri| proxy.is_no_proxy(&uri));
        (!exempt).then(|| proxy.clone())
    }
}

impl Service<ConnectInfo<Uri>> for Tunnels {
    type Response = Connection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&self, req: ConnectInfo<Uri>) -> Connecting {
        let Some(proxy) = self.proxy_for(req.request()) else {
            return Box::pin(self.direct.call(req));
        };
        let direct = self.direct.clone();
        let user_agent = self.user_agent;
        Box::pin(async move {
            if proxy.protocol() != ProxyProtocol::Http {
                return Err(refused(format!(
                    "{:?} proxies are not supported; unset the proxy or use an http:// one",
                    proxy.protocol()
                )));
            }
            let at: Uri = format!("http://{}:{}", proxy.host(), proxy.port())
                .parse()
                .map_err(|_| refused("the proxy address is not a valid URI".into()))?;
            let (mut io, _) = direct.call(ConnectInfo::new(at)).await?.into_parts();
            let head = connect_head(req.hostname(), req.port(), &proxy, user_agent);
            io.write_all(head.as_bytes())
                .await
                .map_err(ConnectError::Io)?;
            read_answer(&mut io).await?;
            Ok(Connection::new(req.request().clone(), io))
        })
    }
}

/// The `CONNECT` request for `host:port`, with the proxy's credentials if it has any.
fn connect_head(host: &str, port: u16, proxy: &Proxy, user_agent: &str) -> String {
    let mut head = format!(
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {user_agent}\r\n\
         Proxy-Connection: Keep-Alive\r\n"
    );
    if proxy.username().is_some() || proxy.password().is_some() {
        let credentials = format!(
            "{}:{}",
            proxy.username().unwrap_or_default(),
            proxy.password().unwrap_or_default()
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        head.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Reads the proxy's answer to `CONNECT`: the tunnel is open on a 200, refused otherwise.
async fn read_answer(io: &mut TcpStream) -> Result<(), ConnectError> {
    let mut answer = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = io.read(&mut chunk).await.map_err(ConnectError::Io)?;
        if n == 0 {
            return Err(refused("the proxy closed the connection".into()));
        }
        answer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&answer) {
            // Nothing comes through the tunnel before we speak, so the head is all there is.
            Ok(httparse::Status::Complete(len)) if len == answer.len() => {
                return match parsed.code {
                    Some(200) => Ok(()),
                    code => Err(refused(format!(
                        "the proxy answered {} to CONNECT",
                        code.unwrap_or_default()
                    ))),
                };
            }
            Ok(httparse::Status::Partial) if answer.len() < MAX_ANSWER => {}
            _ => return Err(refused("unreadable answer from the proxy".into())),
        }
    }
}

fn refused(reason: String) -> ConnectError {
    ConnectError::Io(std::io::Error::other(reason))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::net::{NetError, Policy, Upstream, UpstreamConfig};

    /// A proxy on 127.0.0.1 that sends what it was asked on `seen`, answers `answer`, and
    /// on a 200 reports the first bytes through the tunnel and answers them with `ok`.
    fn proxy(answer: &'static str) -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut head = [0u8; 4096];
                let n = stream.read(&mut head).unwrap_or(0);
                let _ = seen.send(String::from_utf8_lossy(&head[..n]).into_owned());
                let _ = stream.write_all(answer.as_bytes());
                if answer.starts_with("HTTP/1.1 200") {
                    let n = stream.read(&mut head).unwrap_or(0);
                    let _ = seen.send(String::from_utf8_lossy(&head[..n]).into_owned());
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            }
        });
        (port, rx)
    }

    fn send(proxy: Proxy, url: &str) -> Result<http::Response<Vec<u8>>, NetError> {
        let policy = Policy::with_timeout(Duration::from_secs(5));
        let config = UpstreamConfig::with_proxy(policy, Some(proxy))?;
        let request = http::Request::get(url).body(Vec::new()).unwrap();
        actix_web::rt::System::new()
            .block_on(async move { Upstream::new(&config).send(request).await })
    }

    #[test]
    fn requests_go_through_the_proxys_tunnel_with_its_credentials() {
        let (port, seen) = proxy("HTTP/1.1 200 Connection established\r\n\r\n");
        let via = Proxy::new(&format!("http://user:pa%3Ass@127.0.0.1:{port}")).unwrap();
        // Port 9 has no server: the answer can only come through the tunnel.
        let response = send(via, "http://127.0.0.1:9/x").unwrap();
        assert_eq!(response.body(), b"ok");
        let head = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            head.starts_with("CONNECT 127.0.0.1:9 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("Host: 127.0.0.1:9\r\n"), "{head}");
        // The password is percent-decoded, as ureq does for its own tunnels.
        let credentials = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        assert!(
            head.contains(&format!("Proxy-Authorization: Basic {credentials}\r\n")),
            "{head}"
        );
    }

    #[test]
    fn https_goes_through_the_tunnel_as_tls_to_the_target() {
        let (port, seen) = proxy("HTTP/1.1 200 Connection established\r\n\r\n");
        let via = Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap();
        assert!(send(via, "https://localhost:9/x").is_err());
        let head = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            head.starts_with("CONNECT localhost:9 HTTP/1.1\r\n"),
            "{head}"
        );
        // A ClientHello (a TLS handshake record) naming the target, inside the tunnel.
        let hello = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(hello.starts_with('\u{16}'));
        assert!(hello.contains("localhost"));
    }

    #[test]
    fn a_refused_tunnel_fails_the_request() {
        let (port, _seen) = proxy("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        let via = Proxy::new(&format!("http://127.0.0.1:{port}")).unwrap();
        assert!(matches!(
            send(via, "http://127.0.0.1:9/x"),
            Err(NetError::Connect(_))
        ));
    }

    #[test]
    fn hosts_in_no_proxy_are_reached_directly() {
        let (port, seen) = proxy("HTTP/1.1 200 Connection established\r\n\r\n");
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", upstream.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = upstream.accept().unwrap();
            let _ = stream.read(&mut [0u8; 4096]);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndirect");
        });
        let via = Proxy::builder(ProxyProtocol::Http)
            .host("127.0.0.1")
            .port(port)
            .no_proxy("127.0.0.1")
            .build()
            .unwrap();
        assert_eq!(send(via, &url).unwrap().body(), b"direct");
        assert!(seen.try_recv().is_err(), "the proxy was not asked");
    }

    #[test]
    fn proxies_it_cannot_tunnel_through_are_not_bypassed() {
        let (port, seen) = proxy("HTTP/1.1 200 Connection established\r\n\r\n");
        let via = Proxy::new(&format!("socks5://127.0.0.1:{port}")).unwrap();
        assert!(send(via, "http://127.0.0.1:9/x").is_err());
        assert!(seen.try_recv().is_err(), "nothing was sent anywhere");
    }
}
