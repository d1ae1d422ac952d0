//! Stand-ins for providers and for keyport itself with test settings.
//!
//! `Upstream` is a tiny HTTP/1.1 server on 127.0.0.1 that records every request it gets
//! (so a test can assert a server got exactly 0 or 1 requests) and answers through a
//! closure: a fixed response, a response larger than keyport's cap, or no answer at all.
//! `Keyport` starts the real binary like `common::Server`, plus the upstream timeout this
//! module's timeout test needs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, PASSPHRASE};

/// keyport's upstream timeout in these tests.
pub const UPSTREAM_TIMEOUT_MS: u64 = 1500;

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

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
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
    Reply::Send {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: value.to_string().into_bytes(),
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct Upstream {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Upstream {
    pub fn start(reply: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reply: Arc<Responder> = Arc::new(reply);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, reply) = (log.clone(), reply.clone());
                std::thread::spawn(move || serve(stream, &log, reply.as_ref()));
            }
        });
        Upstream {
            port,
            base: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    /// Answers every request with `{"ok": true}`.
    pub fn ok() -> Upstream {
        Upstream::start(|_| json_reply(200, json!({"ok": true})))
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Recorded>>, reply: &Responder) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    log.lock().expect("lock").push(request.clone());
    match reply(&request) {
        Reply::Send {
            status,
            headers,
            body,
        } => {
            let reason = ureq::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Whatever");
            let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
        Reply::Hang => std::thread::sleep(Duration::from_secs(30)),
        Reply::Huge(size) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let block = vec![b'a'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(block.len());
                if stream.write_all(&block[..n]).is_err() {
                    return;
                }
                left -= n;
            }
        }
    }
    let _ = stream.flush();
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The real `keyport serve`, with a short upstream timeout.
pub struct Keyport {
    pub url: String,
    pub admin: String,
    pub dir: PathBuf,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Keyport {
    pub fn start() -> Keyport {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let log = std::fs::File::create(dir.with_extension("log")).expect("log file");
        let mut child = common::keyport(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYPORT_PASSPHRASE", PASSPHRASE)
            .env("KEYPORT_LOG", "keyport=debug,info")
            .env(
                "KEYPORT_UPSTREAM_TIMEOUT_MS",
                UPSTREAM_TIMEOUT_MS.to_string(),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn keyport");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default();
                panic!("keyport exited with {status}: {log}");
            }
            if let Ok(url) = std::fs::read_to_string(dir.join("server.url")) {
                let url = url.trim().to_string();
                if common::agent().get(format!("{url}/healthz")).call().is_ok() {
                    let admin = std::fs::read_to_string(dir.join("admin.key"))
                        .expect("admin.key")
                        .trim()
                        .to_string();
                    return Keyport {
                        url,
                        admin,
                        dir,
                        child,
                        _tmp: tmp,
                    };
                }
            }
            assert!(Instant::now() < deadline, "keyport did not start in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        common::call(&self.url, method, path, Some(&self.admin), body)
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path} -> {status} {value}");
        value
    }

    /// An integration for `app` with `scheme` and `config` (plus `base_url`), and an
    /// ACTIVE connection of `entity` with `data`; returns the connection id.
    pub fn connect(
        &self,
        app: &str,
        scheme: &str,
        base_url: &str,
        config: Value,
        entity: &str,
        data: Value,
    ) -> String {
        let mut auth_config = config;
        auth_config["base_url"] = json!(base_url);
        let integration = self.ok(
            "POST",
            "/api/v1/integrations",
            Some(&json!({"appName": app, "authScheme": scheme, "authConfig": auth_config})),
        );
        let created = self.ok(
            "POST",
            "/api/v1/connectedAccounts",
            Some(&json!({"integrationId": integration["id"], "userUuid": entity, "data": data})),
        );
        assert_eq!(created["connectionStatus"], "ACTIVE", "{created}");
        created["connectedAccountId"]
            .as_str()
            .expect("connection id")
            .to_string()
    }

    pub fn proxy(&self, body: Value) -> (u16, Value) {
        self.call("POST", "/api/v2/actions/proxy", Some(&body))
    }

    pub fn execute(&self, action: &str, body: Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/api/v2/actions/{action}/execute"),
            Some(&body),
        )
    }
}

impl Drop for Keyport {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
