//! One audit record and the MAC that chains it to the record before.

use ring::hmac;

/// What happened, as one stable lower-case name per kind of record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request sent upstream through the proxy.
    Proxy,
    /// A named action run.
    Action,
    /// A live credential handed to a `reveal` key.
    CredentialsRead,
    /// A connection created (its first status is in the outcome).
    ConnectionCreated,
    /// A connection's status changed (outcome: the new status; detail: the reason).
    ConnectionStatus,
    /// A connection's tokens were renewed.
    ConnectionRefreshed,
    /// A connection's tokens were revoked at the provider (or the revocation failed).
    ConnectionRevoked,
    KeyCreated,
    KeyRevoked,
    /// An integration changed by keyport for a caller who is not its admin (a remote MCP
    /// server's scopes widened by a step-up); detail: what changed.
    IntegrationChanged,
    /// A request held for the user's approval.
    ApprovalAsked,
    /// The user's answer to it (outcome `approved` or `denied`), or its end without one.
    ApprovalAnswered,
    /// A request refused: unknown, revoked or expired key, or a permission or restriction.
    Refused,
}

crate::domain::wire_names!(Event {
    Proxy => "proxy",
    Action => "action",
    CredentialsRead => "credentials.read",
    ConnectionCreated => "connection.created",
    ConnectionStatus => "connection.status",
    ConnectionRefreshed => "connection.refreshed",
    ConnectionRevoked => "connection.revoked",
    KeyCreated => "key.created",
    KeyRevoked => "key.revoked",
    IntegrationChanged => "integration.changed",
    ApprovalAsked => "approval.asked",
    ApprovalAnswered => "approval.answered",
    Refused => "refused",
});

/// A record's content, as handed to the log (the log numbers and chains it). Values only:
/// no credential, no body, no query string ever goes in here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub at_ms: i64,
    pub event: String,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub entity: Option<String>,
    pub connection: Option<String>,
    pub app: Option<String>,
    pub action: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    /// The path only: the query is cut off before a record is made.
    pub path: Option<String>,
    pub outcome: String,
    pub status: Option<i64>,
    pub detail: Option<String>,
    pub latency_ms: Option<i64>,
}

/// An entry as stored: its place in the chain and its MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub entry: Entry,
    pub mac: Vec<u8>,
}

/// The MAC the first record of a new chain chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// HMAC over the previous MAC, the sequence number and every field, each length-prefixed
/// (and `None` told apart from `Some("")`), so no two different records encode alike.
/// The fields are laid out in one buffer and signed in one pass.
pub fn chain_mac(key: &hmac::Key, prev: &[u8], seq: i64, entry: &Entry) -> Vec<u8> {
    let mut m = Message::with_label(b"keyport audit record v1", 256);
    m.put(Some(prev));
    m.raw(&seq.to_be_bytes());
    m.raw(&entry.at_ms.to_be_bytes());
    m.put(Some(entry.event.as_bytes()));
    for field in [
        &entry.key_id,
        &entry.key_name,
        &entry.entity,
        &entry.connection,
        &entry.app,
        &entry.action,
        &entry.method,
        &entry.host,
        &entry.path,
    ] {
        m.put(field.as_deref().map(str::as_bytes));
    }
    m.put(Some(entry.outcome.as_bytes()));
    m.put_int(entry.status);
    m.put(entry.detail.as_deref().map(str::as_bytes));
    m.put_int(entry.latency_ms);
    m.sign(key)
}

/// HMAC over the chain's two ends (see `audit_chain`).
pub fn ends_mac(key: &hmac::Key, first: (i64, &[u8]), last: (i64, &[u8])) -> Vec<u8> {
    let mut m = Message::with_label(b"keyport audit ends v1", 128);
    m.raw(&first.0.to_be_bytes());
    m.put(Some(first.1));
    m.raw(&last.0.to_be_bytes());
    m.put(Some(last.1));
    m.sign(key)
}

/// The bytes a MAC is computed over.
struct Message(Vec<u8>);

impl Message {
    fn with_label(label: &[u8], capacity: usize) -> Message {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(label);
        Message(bytes)
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn put(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.0.push(0),
            Some(bytes) => {
                self.0.push(1);
                self.raw(&(bytes.len() as u64).to_be_bytes());
                self.raw(bytes);
            }
        }
    }

    fn put_int(&mut self, value: Option<i64>) {
        match value {
            None => self.0.push(0),
            Some(n) => {
                self.0.push(1);
                self.raw(&n.to_be_bytes());
            }
        }
    }

    fn sign(self, key: &hmac::Key) -> Vec<u8> {
        hmac::sign(key, &self.0).as_ref().to_vec()
    }
}

/// The path of a URL or endpoint without its query or fragment.
pub fn path_only(endpoint: &str) -> String {
    let end = endpoint.find(['?', '#']).unwrap_or(endpoint.len());
    endpoint[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[7; 32])
    }

    #[test]
    fn every_field_and_the_link_change_the_mac() {
        let entry = Entry {
            event: "proxy".into(),
            outcome: "ok".into(),
            path: Some("/user".into()),
            ..Entry::default()
        };
        let base = chain_mac(&key(), &GENESIS, 1, &entry);
        assert_eq!(
            base,
            chain_mac(&key(), &GENESIS, 1, &entry),
            "deterministic"
        );
        assert_ne!(base, chain_mac(&key(), &[1; 32], 1, &entry), "previous MAC");
        assert_ne!(base, chain_mac(&key(), &GENESIS, 2, &entry), "sequence");
        let mut moved = entry.clone();
        moved.path = None;
        moved.host = Some("/user".into());
        assert_ne!(
            base,
            chain_mac(&key(), &GENESIS, 1, &moved),
            "a value in another field"
        );
        let mut empty = entry.clone();
        empty.detail = Some(String::new());
        assert_ne!(
            base,
            chain_mac(&key(), &GENESIS, 1, &empty),
            "None vs empty"
        );
        let other = hmac::Key::new(hmac::HMAC_SHA256, &[8; 32]);
        assert_ne!(base, chain_mac(&other, &GENESIS, 1, &entry), "key");
    }

    /// Logs written before the MAC was computed in one buffer still verify: the bytes
    /// are the v1 layout, fed to HMAC piece by piece as the first writer did.
    #[test]
    fn the_mac_is_the_v1_layout_of_earlier_logs() {
        let entry = Entry {
            at_ms: 1_764_000_000_123,
            event: "proxy".into(),
            key_id: Some("k1".into()),
            key_name: Some("agent".into()),
            entity: Some("alice".into()),
            connection: Some("c1".into()),
            app: Some("github".into()),
            action: None,
            method: Some("GET".into()),
            host: Some("api.github.com".into()),
            path: Some("/user".into()),
            outcome: "ok".into(),
            status: Some(200),
            detail: Some(String::new()),
            latency_ms: None,
        };
        let mut ctx = hmac::Context::with_key(&key());
        let field = |ctx: &mut hmac::Context, v: Option<&[u8]>| match v {
            None => ctx.update(&[0]),
            Some(b) => {
                ctx.update(&[1]);
                ctx.update(&(b.len() as u64).to_be_bytes());
                ctx.update(b);
            }
        };
        ctx.update(b"keyport audit record v1");
        field(&mut ctx, Some(&[9; 32]));
        ctx.update(&7i64.to_be_bytes());
        ctx.update(&entry.at_ms.to_be_bytes());
        field(&mut ctx, Some(b"proxy"));
        for v in ["k1", "agent", "alice", "c1", "github"] {
            field(&mut ctx, Some(v.as_bytes()));
        }
        field(&mut ctx, None);
        for v in ["GET", "api.github.com", "/user", "ok"] {
            field(&mut ctx, Some(v.as_bytes()));
        }
        ctx.update(&[1]);
        ctx.update(&200i64.to_be_bytes());
        field(&mut ctx, Some(b""));
        ctx.update(&[0]);
        let expected = ctx.sign().as_ref().to_vec();
        assert_eq!(chain_mac(&key(), &[9; 32], 7, &entry), expected);

        let mut ctx = hmac::Context::with_key(&key());
        ctx.update(b"keyport audit ends v1");
        ctx.update(&3i64.to_be_bytes());
        field(&mut ctx, Some(&[1; 32]));
        ctx.update(&9i64.to_be_bytes());
        field(&mut ctx, Some(&[2; 32]));
        let expected = ctx.sign().as_ref().to_vec();
        assert_eq!(ends_mac(&key(), (3, &[1; 32]), (9, &[2; 32])), expected);
    }

    #[test]
    fn paths_lose_their_query() {
        assert_eq!(path_only("/search?q=secret#x"), "/search");
        assert_eq!(path_only("/plain"), "/plain");
    }
}
