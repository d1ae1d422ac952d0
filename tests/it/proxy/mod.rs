//! Acting for an entity: the credential-injecting proxy and named actions, against
//! stand-in providers on 127.0.0.1. Each claim is checked on what the stand-in actually
//! received: the exact credential, nothing from the caller that must not pass, and — for
//! every refusal — zero requests at an "off-host" server that records everything.
//! `injection`: what goes out and for whom; `upstream`: hostile endpoints, redirects,
//! failures and answers; `actions`: the action catalog, its input checks and the CLI;
//! `concurrency`: calls waiting on a provider hold no thread; `reflection`: a provider
//! echoing the credential in any encoding hands none of it back.

mod actions;
mod concurrency;
mod injection;
mod reflection;
mod upstream;
mod user_actions;

use serde_json::{Value, json};

use crate::common::{Launch, Server};

/// keyport's upstream timeout in these tests.
const UPSTREAM_TIMEOUT_MS: u64 = 1500;

/// keyport with the short upstream timeout.
fn proxy_server() -> Server {
    Launch::default()
        .env(
            "KEYPORT_UPSTREAM_TIMEOUT_MS",
            &UPSTREAM_TIMEOUT_MS.to_string(),
        )
        .start()
}

/// A GitHub BEARER_TOKEN connection of alice with `token`, its API at `base`.
fn github(kp: &Server, base: &str, token: &str) -> String {
    kp.bearer("github", base, "alice", token)
}

/// A Gmail BEARER_TOKEN connection of alice with `token`, its API under `/gmail/v1` at
/// `base`.
fn gmail(kp: &Server, base: &str, token: &str) -> String {
    kp.bearer("gmail", &format!("{base}/gmail/v1"), "alice", token)
}

fn get(connection: &str, endpoint: &str) -> Value {
    json!({"connectedAccountId": connection, "endpoint": endpoint, "method": "GET"})
}

fn header<'a>(answer: &'a Value, name: &str) -> Option<&'a str> {
    answer["headers"][name].as_str()
}

/// The error message of an API answer.
fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or("")
}
