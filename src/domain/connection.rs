//! A connection (Composio's "connected account"): one entity's authenticated link to one
//! integration. Its lifecycle is a small state machine and `ConnectionStatus::check`
//! is the single place that knows which moves are legal.

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

super::wire_names!(ConnectionStatus, error UnknownStatus("connection status") {
    Initiated => "INITIATED",
    Active => "ACTIVE",
    Inactive => "INACTIVE",
    Expired => "EXPIRED",
    Failed => "FAILED",
    Deleted => "DELETED",
});

impl ConnectionStatus {
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
        assert_eq!(
            "SUCCESS"
                .parse::<ConnectionStatus>()
                .map_err(|e| e.to_string()),
            Err(
                "unknown connection status \"SUCCESS\"; expected one of INITIATED, ACTIVE, \
                 INACTIVE, EXPIRED, FAILED, DELETED"
                    .to_string()
            )
        );
    }
}
