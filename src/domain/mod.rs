//! The Composio auth model as plain data: integrations, entities, connections and their
//! statuses. No I/O and no wire spellings beyond the closed enums' names; the service
//! decides, the store persists, `http/` translates.

pub mod api_key;
pub mod auth_scheme;
pub mod connection;
pub mod integration;

pub use auth_scheme::AuthScheme;
pub use connection::{Connection, ConnectionStatus};
pub use integration::Integration;
