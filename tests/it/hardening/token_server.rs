//! A token endpoint written for these tests: it answers the authorization-code grant with
//! a new token family and every refresh with a rotated refresh token, all expiring in one
//! second (so each read through keyport refreshes). It remembers every token it issued, in
//! order per family, and treats a spent refresh token the way RFC 9700 §4.14 asks an
//! authorization server to: `invalid_grant`, and the whole family is revoked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::common::stand_in::{Reply, Upstream};

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
    pub ledger: Arc<Mutex<Ledger>>,
    endpoint: Upstream,
}

impl TokenServer {
    /// Starts the endpoint; issued tokens are `{prefix}-at-…` and `{prefix}-rt-…`.
    pub fn start(prefix: &str) -> TokenServer {
        TokenServer::start_with_delay(prefix, Duration::ZERO)
    }

    /// The same, answering each request `delay` after it issued the tokens: a crash test
    /// widens the window in which tokens are issued but not yet stored by the client.
    pub fn start_with_delay(prefix: &str, delay: Duration) -> TokenServer {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let (book, prefix) = (Arc::clone(&ledger), prefix.to_string());
        let endpoint = Upstream::unrecorded(move |request| {
            let (status, body) = answer(&mut book.lock().unwrap(), &request.form(), &prefix);
            std::thread::sleep(delay);
            Reply::Send {
                status,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Cache-Control".into(), "no-store".into()),
                ],
                body: body.to_string().into_bytes(),
            }
        });
        TokenServer { ledger, endpoint }
    }

    /// `http://127.0.0.1:PORT`, the base of `/auth` and `/token`.
    pub fn base(&self) -> &str {
        &self.endpoint.base
    }
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
) -> (u16, serde_json::Value) {
    let invalid = json!({"error": "invalid_grant"});
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            l.families.push(Family::default());
            let family = l.families.len() - 1;
            (200, issue(l, family, prefix))
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(&family) = l.by_refresh.get(&presented) else {
                l.replays += 1;
                return (400, invalid);
            };
            let f = &mut l.families[family];
            if f.revoked || f.refresh_tokens.last() != Some(&presented) {
                // Reuse of a spent refresh token: revoke the family (RFC 9700 §4.14.2).
                f.revoked = true;
                l.replays += 1;
                return (400, invalid);
            }
            l.refreshes += 1;
            (200, issue(l, family, prefix))
        }
        _ => (400, json!({"error": "unsupported_grant_type"})),
    }
}
