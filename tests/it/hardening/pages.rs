//! Hostile web pages: after DNS rebinding a page's JavaScript is same-origin with whatever
//! name it used, so the raw `Host` header is what tells keyport apart from the attacker's
//! site; a page that stays cross-origin is refused by its `Origin`, and no response ever
//! opts into CORS. Requests are written by hand over a `TcpStream`, so the `Host` line is
//! exactly what a hostile client would send (an HTTP client would fix it up).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{PASSPHRASE, Server, keyport};

/// One raw HTTP exchange.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends `request` byte for byte and reads the whole answer (the request asks the server
/// to close the connection, or is HTTP/1.0).
pub fn raw(port: u16, request: &str) -> Raw {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    // To the end of the answer; an event stream, which does not end, to its head.
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        data.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&data).to_ascii_lowercase();
        if let Some((head, _)) = text.split_once("\r\n\r\n")
            && head.contains("content-type: text/event-stream")
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to {request:?}: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A request with exactly these header lines (`Host` included or not, as given).
pub fn request(method: &str, target: &str, version: &str, lines: &[String]) -> String {
    let mut out = format!("{method} {target} {version}\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    if version == "HTTP/1.1" {
        out.push_str("Connection: close\r\n");
    }
    if matches!(method, "POST" | "PATCH" | "PUT") {
        out.push_str("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    } else {
        out.push_str("\r\n");
    }
    out
}

/// The three allowed `Host` forms (host names are case-insensitive, so LOCALHOST is the
/// same name; browsers lower-case it before sending anyway). `{p}` is keyport's port.
const ALLOWED_HOSTS: &[&str] = &[
    "127.0.0.1:{p}",
    "localhost:{p}",
    "[::1]:{p}",
    "LOCALHOST:{p}",
    "LocalHost:{p}",
];

/// `Host` values keyport must refuse: other names, other ports (`{q}` is the next port),
/// other spellings of loopback, and smuggling attempts.
const HOSTILE_HOSTS: &[&str] = &[
    "evil.example",
    "evil.example:{p}",
    "EVIL.EXAMPLE:{p}",
    "localhost.evil:{p}",
    "localhost.evil.example:{p}",
    "127.0.0.1.nip.io:{p}",
    "127.0.0.1.evil.example:{p}",
    "",
    ":{p}",
    "127.0.0.1",
    "localhost",
    "[::1]",
    "127.0.0.1:{q}",
    "localhost:{q}",
    "localhost:80",
    "127.0.0.1:0{p}",
    "0.0.0.0:{p}",
    "127.1:{p}",
    "127.0.0.2:{p}",
    "2130706433:{p}",
    "0x7f000001:{p}",
    "[::ffff:127.0.0.1]:{p}",
    "[0:0:0:0:0:0:0:1]:{p}",
    "::1:{p}",
    "localhost.:{p}",
    "127.0.0.1.:{p}",
    "user@127.0.0.1:{p}",
    "127.0.0.1:{p}@evil.example",
    "evil.example@localhost:{p}",
    "127.0.0.1:{p}/evil",
    "127.0.0.1%3a{p}",
    "localhost:{p}, evil.example",
    "localhost:{p} evil.example",
];

/// A `Host` template with keyport's port `p` (and the next, `q`) filled in.
fn host_value(template: &str, p: u16) -> String {
    template
        .replace("{p}", &p.to_string())
        .replace("{q}", &p.wrapping_add(1).to_string())
}

/// The `Host` values a hostile page (after DNS rebinding) or a confused proxy could send,
/// each with the lines that go with it: `(label, header lines, allowed?)`.
fn host_variants(port: u16, key: &str) -> Vec<(String, Vec<String>, bool)> {
    let p = port;
    let auth = format!("x-api-key: {key}");
    let host = |h: &str| vec![format!("Host: {h}"), auth.clone()];
    let mut out: Vec<(String, Vec<String>, bool)> = Vec::new();
    for ok in ALLOWED_HOSTS.iter().map(|t| host_value(t, p)) {
        out.push((ok.clone(), host(&ok), true));
    }
    for bad in HOSTILE_HOSTS.iter().map(|t| host_value(t, p)) {
        out.push((format!("Host: {bad:?}"), host(&bad), false));
    }
    out.push(("no Host (HTTP/1.1)".into(), vec![auth.clone()], false));
    // Spoofed forwarding headers with a hostile Host: refused (the raw Host decides) …
    let good = format!("127.0.0.1:{p}");
    for spoof in [
        format!("X-Forwarded-Host: {good}"),
        format!("Forwarded: host={good}"),
        format!("Forwarded: for=127.0.0.1;host={good};proto=http"),
        format!("X-Host: {good}"),
        format!("X-Original-Host: {good}"),
    ] {
        out.push((
            format!("Host evil + {spoof}"),
            vec![format!("Host: evil.example:{p}"), spoof, auth.clone()],
            false,
        ));
    }
    // … and a hostile forwarding header beside the right Host is ignored.
    for spoof in [
        "X-Forwarded-Host: evil.example".to_string(),
        "Forwarded: host=evil.example".to_string(),
    ] {
        out.push((
            format!("Host good + {spoof}"),
            vec![format!("Host: {good}"), spoof, auth.clone()],
            true,
        ));
    }
    // Two Host headers (RFC 9112 §3.2: a 400 at least); either order.
    out.push((
        "Host good, then Host evil".into(),
        vec![
            format!("Host: {good}"),
            format!("Host: evil.example:{p}"),
            auth.clone(),
        ],
        false,
    ));
    out.push((
        "Host evil, then Host good".into(),
        vec![
            format!("Host: evil.example:{p}"),
            format!("Host: {good}"),
            auth.clone(),
        ],
        false,
    ));
    out
}

#[test]
fn only_keyports_own_host_names_are_served() {
    let server = Server::start();
    let port = port_of(&server.url);
    let mut tried = 0;
    let mut rejected = 0;
    let mut by_parser = 0;
    let mut failures = Vec::new();
    let variants = host_variants(port, &server.admin);
    let (hostile, friendly) = (
        variants.iter().filter(|v| !v.2).count() + 2,
        variants.iter().filter(|v| v.2).count(),
    );
    for (label, lines, allowed) in variants {
        // RFC 9112 §3.2: an HTTP/1.1 request without a Host, or with two, MUST get a 400;
        // actix's parser answers so before keyport's guard runs.
        let malformed = label.starts_with("no Host") || label.contains(", then Host");
        for path in ["/healthz", "/api/v1/integrations", "/connect/x"] {
            tried += 1;
            let got = raw(port, &request("GET", path, "HTTP/1.1", &lines));
            if got.status == 403 {
                assert!(got.body.contains("\"forbidden\""), "{label}: {}", got.body);
            }
            if got.status == 403 || (malformed && got.status == 400) {
                rejected += 1;
                by_parser += usize::from(got.status == 400);
            }
            let ok = if allowed {
                got.status != 403 && got.status != 400
            } else if malformed {
                got.status == 400
            } else {
                got.status == 403
            };
            if !ok {
                failures.push(format!("{label} {path} -> {}", got.status));
            }
        }
    }
    // HTTP/1.0 without Host, and an absolute-form target naming us behind a hostile Host.
    for (label, req) in [
        (
            "no Host (HTTP/1.0)",
            format!(
                "GET /api/v1/integrations HTTP/1.0\r\nx-api-key: {}\r\n\r\n",
                server.admin
            ),
        ),
        (
            "absolute-form target, Host evil",
            format!(
                "GET http://127.0.0.1:{port}/api/v1/integrations HTTP/1.1\r\nHost: evil.example:{port}\r\nx-api-key: {}\r\nConnection: close\r\n\r\n",
                server.admin
            ),
        ),
    ] {
        tried += 1;
        let got = raw(port, &req);
        if got.status == 403 {
            rejected += 1;
        } else {
            failures.push(format!("{label} -> {}", got.status));
        }
    }
    assert!(failures.is_empty(), "Host check failures: {failures:#?}");
    println!(
        "{} Host values tried ({hostile} hostile, {friendly} allowed forms) in {tried} requests: {rejected} rejected = 100% of the hostile ones ({} with 403 by keyport's guard, {by_parser} with 400 by the HTTP parser for a missing or doubled Host); the {} others are the 3 allowed forms with the right port (any case), hostile forwarding headers ignored",
        hostile + friendly,
        rejected - by_parser,
        tried - rejected
    );
    assert!(hostile >= 20);
}

fn sample_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str("sample");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'"),
];

/// The raw requests of the cross-origin walk and what they got.
struct Walk {
    port: u16,
    host: String,
    key: String,
    evil_origins: Vec<String>,
    responses: Vec<(String, Raw)>,
    refused: usize,
    cross_origin_writes: usize,
}

impl Walk {
    fn send(&self, method: &str, path: &str, lines: &[String]) -> Raw {
        raw(self.port, &request(method, path, "HTTP/1.1", lines))
    }

    /// `method path` with the right Host, the key, and `Origin: origin`.
    fn with_origin(&self, method: &str, path: &str, origin: &str) -> Raw {
        let lines = [
            self.host.clone(),
            self.key.clone(),
            format!("Origin: {origin}"),
        ];
        self.send(method, path, &lines)
    }

    /// Same-origin and origin-less requests (with and without a key), then each hostile
    /// origin's request and the preflight a browser would send first.
    fn probe(&mut self, method: &str, path: &str) {
        let is_api = path.starts_with("/api/");
        for lines in [
            vec![self.host.clone(), self.key.clone()],
            vec![self.host.clone()],
            vec![
                self.host.clone(),
                self.key.clone(),
                format!("Origin: http://127.0.0.1:{}", self.port),
            ],
        ] {
            let got = self.send(method, path, &lines);
            self.responses.push((format!("{method} {path}"), got));
        }
        for origin in self.evil_origins.clone() {
            let simple = self.with_origin(method, path, &origin);
            let preflight = self.send(
                "OPTIONS",
                path,
                &[
                    self.host.clone(),
                    format!("Origin: {origin}"),
                    format!("Access-Control-Request-Method: {method}"),
                    "Access-Control-Request-Headers: x-api-key, content-type".into(),
                    "Access-Control-Request-Private-Network: true".into(),
                ],
            );
            assert_eq!(preflight.status, 403, "OPTIONS {path} from {origin}");
            self.refused += 1;
            if is_api || method != "GET" {
                assert_eq!(simple.status, 403, "{method} {path} from {origin}");
                self.cross_origin_writes += 1;
                self.refused += 1;
            }
            self.responses
                .push((format!("{method} {path} from {origin}"), simple));
            self.responses
                .push((format!("OPTIONS {path} from {origin}"), preflight));
        }
    }

    /// DELETE, POST and PATCH with a hostile Origin against resources that exist.
    fn hostile_writes(&mut self, server: &Server) {
        let integration =
            server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
        let id = integration["id"].as_str().unwrap();
        for origin in self.evil_origins.clone() {
            for (method, path) in [
                ("DELETE", format!("/api/v1/integrations/{id}")),
                ("POST", "/api/v1/keys".to_string()),
                ("PATCH", format!("/api/v1/integrations/{id}")),
            ] {
                let got = self.with_origin(method, &path, &origin);
                assert_eq!(got.status, 403, "{method} {path} from {origin}");
                self.refused += 1;
                self.responses
                    .push((format!("{method} {path} from {origin}"), got));
            }
        }
        server.ok("GET", &format!("/api/v1/integrations/{id}"), None);
    }

    /// No response opted into CORS, and every one carried the security headers.
    fn check_headers(&self) {
        let mut cors_headers = 0;
        let mut missing = Vec::new();
        for (label, r) in &self.responses {
            cors_headers += r
                .headers
                .iter()
                .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
                .count();
            for (name, want) in SECURITY_HEADERS {
                if !r.header(name).is_some_and(|v| v.contains(want)) {
                    missing.push(format!("{label} ({}): {name}", r.status));
                }
            }
            let cache = r.header("Cache-Control").unwrap_or_default();
            if !label.contains("/static/") && cache != "no-store" {
                missing.push(format!("{label}: Cache-Control {cache:?}"));
            }
        }
        assert_eq!(cors_headers, 0, "Access-Control-* headers were sent");
        assert!(missing.is_empty(), "security headers missing: {missing:#?}");
    }
}

#[test]
fn cross_origin_requests_are_refused_and_no_cors_header_is_ever_sent() {
    let server = Server::start();
    let port = port_of(&server.url);
    let mut walk = Walk {
        port,
        host: format!("Host: 127.0.0.1:{port}"),
        key: format!("x-api-key: {}", server.admin),
        evil_origins: vec![
            "https://evil.example".to_string(),
            "null".to_string(),
            "http://localhost.evil.example".to_string(),
            format!("http://127.0.0.1:{port}.evil.example"),
            format!("http://127.0.0.1:{}", port.wrapping_add(1)),
            format!("https://127.0.0.1:{port}"),
        ],
        responses: Vec::new(),
        refused: 0,
        cross_origin_writes: 0,
    };
    let mut paths: Vec<(String, String)> = keyport::http::routes()
        .iter()
        .map(|r| (r.method.to_uppercase(), sample_path(r.path)))
        .collect();
    paths.push(("GET".into(), "/no/such/route".into()));
    paths.push(("POST".into(), "/healthz".into()));
    for (method, path) in &paths {
        walk.probe(method, path);
    }
    walk.hostile_writes(&server);
    walk.check_headers();
    println!(
        "{} routes walked, {} responses checked: {} cross-origin requests refused with 403 ({} API/state-changing), 0 Access-Control-* headers, security headers on every response",
        paths.len(),
        walk.responses.len(),
        walk.refused,
        walk.cross_origin_writes
    );
}

#[test]
fn a_non_loopback_address_needs_allow_remote_and_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let refused = keyport(&dir)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    assert!(!dir.join("server.url").exists());

    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    let mut cmd = keyport(&dir);
    cmd.args(["serve", "--listen", "0.0.0.0:0", "--allow-remote"])
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .stdout(Stdio::null())
        .stderr(log);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("server.url").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(dir.with_extension("log")).unwrap();
    assert!(
        stderr.contains("WARNING: listening on 0.0.0.0:"),
        "{stderr}"
    );
    println!(
        "0.0.0.0 without --allow-remote: refused; with it: {:?}",
        stderr
            .lines()
            .find(|l| l.contains("WARNING"))
            .unwrap_or_default()
    );
}
