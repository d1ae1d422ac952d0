//! keyport as a library: the modules behind the `keyport` binary, exposed so integration
//! tests and benchmarks drive the same code.

pub mod actions;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod ids;
pub mod inline;
pub mod logging;
pub mod mcp;
pub mod net;
pub mod providers;
pub mod secret;
pub mod service;
pub mod store;
pub mod vault;
pub mod webhooks;
