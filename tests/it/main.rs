//! keyport's integration tests: one binary, one module per area. Each test starts the real
//! binary (or drives the library) against throwaway data dirs on 127.0.0.1.
#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "tests wait for and time real processes"
)]

mod api;
mod checks;
mod cli;
mod cluster;
mod common;
mod hardening;
mod mcp;
mod migrate;
mod oauth;
mod proxy;
mod quirks;
mod schemes;
mod sdk;
mod sdk3;
mod storage;
mod storage_cache;
mod wire;
mod wire_v3;
