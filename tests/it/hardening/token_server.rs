//! A token endpoint written for these tests: it answers the authorization-code grant with
//! a new token family and every refresh with a rotated refresh token, all expiring in one
//! second (so each read through keyport refreshes). It remembers every token it issued, in
//! order per family, and treats a spent refresh token the way RFC 9700 §4.14 asks an
//! authorization server to: `invalid_grant`, and the whole family is revoked.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

#[derive(Default)]
pub struct Family {
    /// Refresh tokens in the order they were issued; the last is the only live one.
    pub refresh_tokens: Vec<String>,
    pub access_tokens: Vec<String>,
    /// A spent refresh token was presented: the family is dead.
    pub revoked: bool,
}

#[derive(Default)]
pub struct Ledger {
    pub families: Vec<Family>,
    by_refresh: HashMap<String, usize>,
    /// Refresh requests that presented a spent (or unknown) refresh token.
    pub replays: usize,
    pub refreshes: usize,
}

pub struct TokenServer {
    pub port: u16,
    pub ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    /// Starts the endpoint; issued tokens are `{prefix}-at-…` and `{prefix}-rt-…`.
    pub fn start(prefix: &str) -> TokenServer {
        TokenServer::start_with_delay(prefix, Duration::ZERO)
    }

    /// The same, answering each request `delay` after it issued the tokens: a crash test
    /// widens the window in which tokens are issued but not yet stored by the client.
    pub fn start_with_delay(prefix: &str, delay: Duration) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ledger2, stop2, prefix) = (ledger.clone(), stop.clone(), prefix.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (ledger, prefix) = (ledger2.clone(), prefix.clone());
                std::thread::spawn(move || serve_one(stream, &ledger, &prefix, delay));
            }
        });
        TokenServer { port, ledger, stop }
    }

    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request; returns its form body.
fn read_form(stream: &mut TcpStream) -> Option<HashMap<String, String>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            let body = &data[end + 4..end + 4 + length];
            return Some(
                url::form_urlencoded::parse(body)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            );
        }
    }
}

fn serve_one(mut stream: TcpStream, ledger: &Mutex<Ledger>, prefix: &str, delay: Duration) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(form) = read_form(&mut stream) else {
        return;
    };
    let (status, body) = {
        let mut l = ledger.lock().unwrap();
        answer(&mut l, &form, prefix)
    };
    std::thread::sleep(delay);
    let text = body.to_string();
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    );
}

fn issue(l: &mut Ledger, family: usize, prefix: &str) -> serde_json::Value {
    let n = l.families[family].refresh_tokens.len();
    let salt: u32 = rand_u32();
    let at = format!("{prefix}-at-{family}-{n}-{salt:08x}");
    let rt = format!("{prefix}-rt-{family}-{n}-{salt:08x}");
    l.families[family].access_tokens.push(at.clone());
    l.families[family].refresh_tokens.push(rt.clone());
    l.by_refresh.insert(rt.clone(), family);
    json!({"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": 1})
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn answer(
    l: &mut Ledger,
    form: &HashMap<String, String>,
    prefix: &str,
) -> (&'static str, serde_json::Value) {
    let invalid = json!({"error": "invalid_grant"});
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            l.families.push(Family::default());
            let family = l.families.len() - 1;
            ("200 OK", issue(l, family, prefix))
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(&family) = l.by_refresh.get(&presented) else {
                l.replays += 1;
                return ("400 Bad Request", invalid);
            };
            let f = &mut l.families[family];
            if f.revoked || f.refresh_tokens.last() != Some(&presented) {
                // Reuse of a spent refresh token: revoke the family (RFC 9700 §4.14.2).
                f.revoked = true;
                l.replays += 1;
                return ("400 Bad Request", invalid);
            }
            l.refreshes += 1;
            ("200 OK", issue(l, family, prefix))
        }
        _ => (
            "400 Bad Request",
            json!({"error": "unsupported_grant_type"}),
        ),
    }
}
