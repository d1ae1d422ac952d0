//! keyport as a localhost service under attack (issue 7), each property proven against the
//! real binary with its figures printed: hostile web pages (`pages`: DNS rebinding through
//! the `Host` header, cross-origin requests, CORS), other local users (`users`: file modes
//! under `umask 000`, core dumps, dumpability), secrets in logs (`logs`) and in `Debug` or a
//! hostile KDF header (`secrets`), crashes (`crash`), and the API schema with schemathesis
//! (`schema`). This file holds what several of them share.

mod crash;
mod logs;
mod pages;
mod schema;
mod secrets;
mod token_server;
mod users;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::idp::testidp_integration;

pub fn value_str(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// Runs a command in the background; used by modules that wrap keyport (sh, setpriv).
pub fn spawn_logged(dir: &Path, mut cmd: Command) -> Result<Server, std::process::Output> {
    let log = std::fs::File::create(dir.with_extension("log")).unwrap();
    cmd.stdout(Stdio::piped()).stderr(log);
    Server::spawn(dir, cmd)
}

/// An OAUTH2 integration of `testidp` whose token endpoint is `tokens`.
pub fn testidp(server: &Server, tokens: &token_server::TokenServer, client_secret: &str) -> Value {
    testidp_integration(
        server,
        tokens.base(),
        json!({"client_id": "keyport-tests", "client_secret": client_secret}),
    )
}
