//! A connection (Composio's "connected account"): one entity's authenticated link to one
//! integration. Its lifecycle is a small state machine and `ConnectionStatus::check`
//! is the single place that knows which moves are legal.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::ids::{ConnectionId, EntityId, IntegrationId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionStatus {
    Initiated,
    Active,
    Inactive,
    Expired,
    Failed,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a connection cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: ConnectionStatus,
    pub to: ConnectionStatus,
}

impl ConnectionStatus {
    pub const ALL: [ConnectionStatus; 6] = [
        ConnectionStatus::Initiated,
        ConnectionStatus::Active,
        ConnectionStatus::Inactive,
        ConnectionStatus::Expired,
        ConnectionStatus::Failed,
        ConnectionStatus::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Initiated => "INITIATED",
            ConnectionStatus::Active => "ACTIVE",
            ConnectionStatus::Inactive => "INACTIVE",
            ConnectionStatus::Expired => "EXPIRED",
            ConnectionStatus::Failed => "FAILED",
            ConnectionStatus::Deleted => "DELETED",
        }
    }

    /// The lifecycle: INITIATED → ACTIVE | FAILED; ACTIVE ⇄ INACTIVE; ACTIVE → EXPIRED
    /// (the provider refused to refresh); EXPIRED or FAILED → ACTIVE (re-authorised by a
    /// reconnect); anything but DELETED → DELETED. ACTIVE → ACTIVE is a credential update
    /// (refresh).
    pub fn check(self, to: ConnectionStatus) -> Result<(), IllegalTransition> {
        use ConnectionStatus::*;
        let legal = match (self, to) {
            (Deleted, _) => false,
            (_, Deleted) => true,
            (Initiated, Active | Failed) => true,
            (Active, Active | Inactive | Expired) => true,
            (Inactive, Active) => true,
            (Expired, Active | Inactive) => true,
            (Failed, Active) => true,
            _ => false,
        };
        if legal {
            Ok(())
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// A connection in this status may be used to act for its entity.
    pub fn usable(self) -> bool {
        self == ConnectionStatus::Active
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown connection status {0:?}; expected one of INITIATED, ACTIVE, INACTIVE, EXPIRED, FAILED, DELETED"
)]
pub struct UnknownStatus(pub String);

impl FromStr for ConnectionStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        ConnectionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == upper)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// A stored connection with its secret parameters still sealed.
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: ConnectionId,
    pub integration_id: IntegrationId,
    pub entity_id: EntityId,
    pub app_key: String,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub labels: Vec<String>,
    /// Non-secret connection parameters (template variables, username, token expiry…).
    pub params: Map<String, Value>,
    /// Names of the sealed parameters, so reads can show them redacted without opening them.
    pub secret_keys: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::ConnectionStatus::*;
    use super::*;

    #[test]
    fn lifecycle_is_enforced_in_one_place() {
        let legal = [
            (Initiated, Active),
            (Initiated, Failed),
            (Initiated, Deleted),
            (Active, Inactive),
            (Active, Expired),
            (Active, Active),
            (Inactive, Active),
            (Expired, Active),
            (Failed, Active),
            (Failed, Deleted),
        ];
        for (from, to) in legal {
            assert!(from.check(to).is_ok(), "{from} -> {to} should be legal");
        }
        let illegal = [
            (Deleted, Active),
            (Deleted, Deleted),
            (Failed, Inactive),
            (Inactive, Expired),
            (Active, Initiated),
            (Initiated, Inactive),
            (Initiated, Expired),
        ];
        for (from, to) in illegal {
            assert_eq!(from.check(to), Err(IllegalTransition { from, to }));
        }
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        for st in ConnectionStatus::ALL {
            assert_eq!(
                st.as_str().to_lowercase().parse::<ConnectionStatus>(),
                Ok(st)
            );
        }
        assert!("SUCCESS".parse::<ConnectionStatus>().is_err());
    }
}
