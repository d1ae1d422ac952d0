//! The test kit, shared by the integration tests and the benches (which mount it with
//! `#[path]`): one keyport launcher (`launcher`), one client (`client`), one stand-in HTTP
//! server for providers and token endpoints (`stand_in`), PostgreSQL databases for runs on
//! that backend (`database`), one `testidp` fixture (`idp`), one locator for the real peers
//! (`peers`), a raw client of `/mcp` (`mcp`), and keyport as a library (`service`).

pub mod client;
pub mod database;
pub mod idp;
pub mod launcher;
pub mod mcp;
pub mod peers;
pub mod service;
pub mod stand_in;

pub use client::{agent, call, error_message};
pub use launcher::{Launch, PASSPHRASE, PRIVATE_FILES, Server, bin, keyport, succeeded};
