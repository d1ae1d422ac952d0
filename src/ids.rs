//! Typed identifiers. Integration, connection and API-key ids are UUIDv4s; entity ids are
//! strings chosen by the caller (`"default"` when none is named). An integration (auth
//! config) and a connection have one identity with two spellings: the v1 API shows the
//! hyphenated UUID, the v3 API a prefixed form (`ac_…`, `ca_…` and the 32 hex digits);
//! each parses either, so an id handed out by one surface works on the other. Parsing happens at the
//! edge, so the service never handles an id that was not validated. This is the lowest
//! layer: it imports nothing from the rest of the crate, and its own [`ParseIdError`] is
//! joined into the service error above it.

use std::fmt;
use std::str::FromStr;

/// An id that did not parse. A malformed UUID names no existing row, so it reads as "not
/// found" (as Composio answers); a malformed entity id is bad input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    #[error("{what} {id:?} not found")]
    NoSuch { what: &'static str, id: String },
    #[error("{0}")]
    Entity(&'static str),
}

impl ParseIdError {
    /// Stable machine-readable code, as the service error reports it.
    pub fn code(&self) -> &'static str {
        match self {
            ParseIdError::NoSuch { .. } => "not_found",
            ParseIdError::Entity(_) => "invalid_input",
        }
    }
}

macro_rules! uuid_id {
    ($name:ident, $what:literal, $prefix:literal) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// The prefix of the id's v3 spelling (`ac_…`, `ca_…`); empty for ids the v3
            /// API does not show.
            pub const V3_PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                $name(uuid::Uuid::new_v4())
            }

            /// The v3 API's spelling of the same id: the prefix and the UUID's 32 hex
            /// digits. Both spellings parse back to this id on every surface.
            pub fn v3(&self) -> String {
                format!("{}{}", $prefix, self.0.simple())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, ParseIdError> {
                let trimmed = s.trim();
                let bare = trimmed.strip_prefix($prefix).unwrap_or(trimmed);
                uuid::Uuid::parse_str(bare)
                    .map($name)
                    .map_err(|_| ParseIdError::NoSuch {
                        what: $what,
                        id: s.to_string(),
                    })
            }
        }
    };
}

uuid_id!(IntegrationId, "integration", "ac_");
uuid_id!(ConnectionId, "connected account", "ca_");
uuid_id!(ApiKeyId, "api key", "");

/// One end user of the developer's agent. Any printable string of 1–128 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(String);

impl EntityId {
    pub const DEFAULT: &'static str = "default";

    pub fn default_entity() -> Self {
        EntityId(Self::DEFAULT.to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, ParseIdError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 128 {
            return Err(ParseIdError::Entity(
                "entity id must be 1 to 128 characters",
            ));
        }
        if trimmed.chars().any(|c| c.is_control() || c == ',') {
            return Err(ParseIdError::Entity(
                "entity id must not contain control characters or commas",
            ));
        }
        Ok(EntityId(trimmed.to_string()))
    }

    /// `None` or blank → `"default"`.
    pub fn or_default(raw: Option<&str>) -> Result<Self, ParseIdError> {
        match raw {
            Some(s) if !s.trim().is_empty() => Self::parse(s),
            _ => Ok(Self::default_entity()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EntityId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, ParseIdError> {
        EntityId::parse(s)
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids_are_validated() {
        assert_eq!(
            EntityId::or_default(None).ok(),
            Some(EntityId::default_entity())
        );
        assert_eq!(
            EntityId::or_default(Some("  ")).ok(),
            Some(EntityId::default_entity())
        );
        assert_eq!(
            EntityId::parse(" alice ").ok().map(|e| e.0),
            Some("alice".into())
        );
        assert!(EntityId::parse("a,b").is_err());
        assert!(EntityId::parse("a\nb").is_err());
        assert!(EntityId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn uuid_ids_reject_garbage_as_not_found() {
        let err = "nope".parse::<ConnectionId>().err().map(|e| e.code());
        assert_eq!(err, Some("not_found"));
        let id = ConnectionId::new();
        assert_eq!(id.to_string().parse::<ConnectionId>().ok(), Some(id));
    }

    #[test]
    fn both_spellings_name_the_same_id() {
        let id = IntegrationId::new();
        let v3 = id.v3();
        assert!(v3.starts_with("ac_") && v3.len() == 35, "{v3}");
        assert_eq!(v3.parse::<IntegrationId>().ok(), Some(id));
        assert_eq!(id.to_string().parse::<IntegrationId>().ok(), Some(id));
        // a connection's prefix does not name an integration
        let err = format!("ca_{}", id.0.simple()).parse::<IntegrationId>();
        assert!(err.is_err());
        let connection = ConnectionId::new();
        assert_eq!(
            connection.v3().parse::<ConnectionId>().ok(),
            Some(connection)
        );
    }
}
