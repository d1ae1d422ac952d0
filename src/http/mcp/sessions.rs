//! MCP sessions on the Streamable HTTP endpoint: `initialize` opens one and answers its id
//! in `Mcp-Session-Id`; every later request names it. A session belongs to the API key
//! that opened it (another key naming it is told it does not exist), remembers the
//! negotiated protocol revision, and ends on `DELETE /mcp`, after an hour unused, or when
//! the table is full and it is the least recently used. The table is in memory: a restart
//! ends every session, and clients start a new one on the 404 that follows, as the
//! specification asks of them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::ProtocolVersion;

use crate::clock::Deadline;
use crate::ids::ApiKeyId;

/// Sessions kept at most; the least recently used goes first.
const MAX_SESSIONS: usize = 4096;
/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(3600);

struct Session {
    key: ApiKeyId,
    version: ProtocolVersion,
    /// When it ends unless used again.
    ends: Deadline,
    /// When it was last used, in uses of the table: orders sessions for eviction.
    turn: u64,
}

#[derive(Default)]
struct Table {
    open: HashMap<String, Session>,
    turns: u64,
}

impl Table {
    fn turn(&mut self) -> u64 {
        self.turns += 1;
        self.turns
    }
}

#[derive(Default)]
pub struct Sessions {
    table: Mutex<Table>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// A new session id: a random v4 UUID (122 random bits) in hex, visible ASCII as the
/// specification requires.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session for `key` at `version`; answers its id.
    pub fn open(&self, key: &ApiKeyId, version: ProtocolVersion) -> String {
        let mut table = self.table();
        table.open.retain(|_, s| !s.ends.passed());
        if table.open.len() >= MAX_SESSIONS
            && let Some(oldest) = table
                .open
                .iter()
                .min_by_key(|(_, s)| s.turn)
                .map(|(id, _)| id.clone())
        {
            table.open.remove(&oldest);
        }
        let id = new_id();
        let turn = table.turn();
        table.open.insert(
            id.clone(),
            Session {
                key: *key,
                version,
                ends: Deadline::after(IDLE),
                turn,
            },
        );
        id
    }

    /// The negotiated revision of `key`'s session `id`, marking it used; `None` when no
    /// such session is open for this key.
    pub fn find(&self, id: &str, key: &ApiKeyId) -> Option<ProtocolVersion> {
        let mut table = self.table();
        let turn = table.turn();
        let session = table.open.get_mut(id).filter(|s| s.key == *key)?;
        if session.ends.passed() {
            table.open.remove(id);
            return None;
        }
        session.ends = Deadline::after(IDLE);
        session.turn = turn;
        Some(session.version.clone())
    }

    /// Whether `key`'s session `id` is still open (without marking it used).
    pub fn is_open(&self, id: &str, key: &ApiKeyId) -> bool {
        self.table().open.get(id).is_some_and(|s| s.key == *key)
    }

    /// Ends `key`'s session `id`; false when there was none.
    pub fn close(&self, id: &str, key: &ApiKeyId) -> bool {
        let mut table = self.table();
        if table.open.get(id).is_some_and(|s| s.key == *key) {
            table.open.remove(id);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_its_keys_alone_until_closed() {
        let sessions = Sessions::default();
        let (alice, mallory) = (ApiKeyId::new(), ApiKeyId::new());
        let id = sessions.open(&alice, ProtocolVersion::V_2025_06_18);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(
            sessions.find(&id, &alice),
            Some(ProtocolVersion::V_2025_06_18)
        );
        assert_eq!(sessions.find(&id, &mallory), None);
        assert!(!sessions.close(&id, &mallory));
        assert!(sessions.is_open(&id, &alice));
        assert!(sessions.close(&id, &alice));
        assert_eq!(sessions.find(&id, &alice), None);
        assert!(!sessions.close(&id, &alice));
    }

    #[test]
    fn a_full_table_drops_the_least_recently_used() {
        let sessions = Sessions::default();
        let alice = ApiKeyId::new();
        let first = sessions.open(&alice, ProtocolVersion::V_2025_11_25);
        let second = sessions.open(&alice, ProtocolVersion::V_2025_11_25);
        assert!(sessions.find(&first, &alice).is_some());
        for _ in 2..MAX_SESSIONS {
            sessions.open(&alice, ProtocolVersion::V_2025_11_25);
        }
        assert!(sessions.is_open(&second, &alice));
        sessions.open(&alice, ProtocolVersion::V_2025_11_25);
        assert!(!sessions.is_open(&second, &alice), "the oldest stayed");
        assert!(sessions.is_open(&first, &alice), "a used session went");
    }
}
