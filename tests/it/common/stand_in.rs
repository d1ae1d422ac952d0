//! Stand-in HTTP servers on 127.0.0.1 for the providers, token endpoints and APIs keyport
//! talks to, built on `tiny_http` (no hand-written HTTP parser). An `Upstream` records every
//! request it gets, so a test can assert a server got exactly 0 or 1 requests and what they
//! carried, and answers through a closure: a fixed response, one larger than keyport's cap,
//! or no answer at all. A `Sentinel` counts raw connections, for "nothing even connected".

use std::collections::HashMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// Requests answered at once; a `Hang` answer moves to a thread of its own.
const WORKERS: usize = 16;

#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-case names, in order, repeats kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(
            all.len() <= 1,
            "header {name} sent {} times: {all:?}",
            all.len()
        );
        all.first().copied()
    }

    /// Whether some `name` header has `value`, compared without regard to case.
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.all(name).iter().any(|v| v.eq_ignore_ascii_case(value))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

pub enum Reply {
    Send {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Accept the request and never answer.
    Hang,
    /// A 200 whose body has this many bytes.
    Huge(usize),
}

pub fn json_reply(status: u16, value: Value) -> Reply {
    reply(status, "application/json", value.to_string())
}

/// A reply with a body of `content_type`.
pub fn reply(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Send {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.into(),
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct Upstream {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    count: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
}

impl Upstream {
    /// Records every request and answers it with `reply`.
    pub fn start(reply: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        Upstream::serve(true, Arc::new(reply))
    }

    /// Counts requests but keeps none: for load, where a record of each would cost.
    pub fn unrecorded(reply: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        Upstream::serve(false, Arc::new(reply))
    }

    /// Answers every request with `{"ok": true}`.
    pub fn ok() -> Upstream {
        Upstream::start(|_| json_reply(200, json!({"ok": true})))
    }

    fn serve(record: bool, reply: Arc<Responder>) -> Upstream {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind stand-in"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..WORKERS {
            let (server, seen, count, reply) = (
                Arc::clone(&server),
                Arc::clone(&seen),
                Arc::clone(&count),
                Arc::clone(&reply),
            );
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let mut seen_request = request_head(&request);
                    let _ = request.as_reader().read_to_end(&mut seen_request.body);
                    count.fetch_add(1, Ordering::SeqCst);
                    if record {
                        seen.lock().expect("lock").push(seen_request.clone());
                    }
                    respond(request, reply(&seen_request));
                }
            });
        }
        Upstream {
            port,
            base: format!("http://127.0.0.1:{port}"),
            seen,
            count,
            server,
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().expect("lock").clone()
    }

    /// The only request this server got.
    pub fn only(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:#?}");
        all.into_iter().next().expect("one")
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for _ in 0..WORKERS {
            self.server.unblock();
        }
    }
}

fn request_head(request: &tiny_http::Request) -> Recorded {
    Recorded {
        method: request.method().as_str().to_string(),
        target: request.url().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect(),
        body: Vec::new(),
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("an ASCII header")
}

fn respond(request: tiny_http::Request, answer: Reply) {
    match answer {
        Reply::Send {
            status,
            headers,
            body,
        } => {
            let length = body.len();
            let headers = headers.iter().map(|(n, v)| header(n, v)).collect();
            let response = tiny_http::Response::new(
                tiny_http::StatusCode(status),
                headers,
                std::io::Cursor::new(body),
                Some(length),
                None,
            );
            let _ = request.respond(response.with_chunked_threshold(usize::MAX));
        }
        Reply::Hang => {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(30));
                drop(request);
            });
        }
        Reply::Huge(size) => {
            let response = tiny_http::Response::new(
                tiny_http::StatusCode(200),
                vec![header("Content-Type", "text/plain")],
                std::io::repeat(b'a').take(size as u64),
                Some(size),
                None,
            );
            let _ = request.respond(response.with_chunked_threshold(usize::MAX));
        }
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A listener that counts the connections made to it and drops them unread: the proof
/// that nothing (not even a connection) reached an address.
pub struct Sentinel {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Sentinel {
    pub fn start() -> Sentinel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sentinel");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Sentinel { port, hits, stop }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
