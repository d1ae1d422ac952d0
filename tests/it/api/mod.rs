//! The HTTP API: authentication on every route and the permissions of keys (`keys`), the
//! permission lattice and key restrictions route by route (`permissions`), restrictions as
//! a user sets them and the panic button (`restrictions`),
//! integrations and connections through their life in Composio shapes (`lifecycle`), bad
//! input answered with 4xx and a JSON error (`bad_input`), and the app catalog (`catalog`).

mod approvals;
mod audit;
mod bad_input;
mod catalog;
mod events;
mod keys;
mod lifecycle;
mod permissions;
mod restrictions;
mod webhooks;
