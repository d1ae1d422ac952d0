//! The Composio auth model as plain data: integrations, entities, connections and their
//! statuses. No I/O and no wire spellings beyond the closed enums' names; the service
//! decides, the store persists, `http/` translates.

/// A closed set's wire names as one table, `Value => "NAME"` (`| "ALIAS"` for other
/// spellings it accepts): `ALL` (every value, in the table's order), `as_str` (a value's
/// name), `named` (the value a name or alias spells, ignoring ASCII case and surrounding
/// space) and `Display`, so the names are written once and parsing walks the same table.
/// With `error Unknown("what")`, also the error for a name outside the set — its message
/// lists every name — and the `FromStr` that returns it.
macro_rules! wire_names {
    ($set:ident { $($value:ident => $name:literal $(| $alias:literal)*,)+ }) => {
        impl $set {
            pub const ALL: [$set; [$($name),+].len()] = [$($set::$value),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($set::$value => $name,)+
                }
            }

            /// The value `raw` names, ignoring ASCII case and surrounding space.
            pub fn named(raw: &str) -> Option<$set> {
                let raw = raw.trim();
                $(
                    if raw.eq_ignore_ascii_case($name) $(|| raw.eq_ignore_ascii_case($alias))* {
                        return Some($set::$value);
                    }
                )+
                None
            }
        }

        impl std::fmt::Display for $set {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($set:ident, error $error:ident($what:literal) { $($table:tt)+ }) => {
        $crate::domain::wire_names!($set { $($table)+ });

        #[doc = concat!("The error for a ", $what, " name outside the closed set.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {} {:?}; expected one of {}", $what, .0, $set::ALL.map($set::as_str).join(", "))]
        pub struct $error(pub String);

        impl std::str::FromStr for $set {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $set::named(s).ok_or_else(|| $error(s.to_string()))
            }
        }
    };
}
pub(crate) use wire_names;

pub mod api_key;
pub mod auth_scheme;
pub mod connection;
pub mod integration;

pub use auth_scheme::AuthScheme;
pub use connection::{Connection, ConnectionStatus};
pub use integration::Integration;
