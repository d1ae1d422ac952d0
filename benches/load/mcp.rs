//! keyport's MCP server against the API it stands on, in one run, both under the same
//! `use` key restricted to the entity: `keyport_proxy` through `/mcp` (Streamable HTTP)
//! against the same GET through `POST /api/v2/actions/proxy`, throughput under wrk; and
//! `keyport_proxy` through `keyport mcp serve` (stdio, as a desktop host spawns it) against
//! the same call through the API, one call at a time, for the latency the MCP hop adds.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::client::agent;
use crate::harness::{Settings, bin};
use crate::plane::with_connection;
use crate::report::{Goal, Report, ms};
use crate::upstream::Upstream;
use crate::wrk::{Target, Wrk};

/// Calls per side in the stdio comparison, after `WARM` unmeasured ones each.
const CALLS: usize = 2_000;
const WARM: usize = 200;
/// Calls of one side before the other's turn, so that outside load hits both alike.
const BLOCK: usize = 100;

fn tool_call(id: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "keyport_proxy",
        "arguments": {"connected_account_id": id, "method": "GET", "endpoint": "/user"}}})
}

fn api_body(id: &str) -> Value {
    json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"})
}

/// A tool call's answer must be a successful result.
fn succeeded(answer: &Value) {
    assert_eq!(
        answer["result"]["isError"], false,
        "keyport_proxy failed: {answer}"
    );
}

/// A `use` key of alice's.
fn alice_key(kp: &Server) -> String {
    let created = kp.ok(
        "POST",
        "/api/v1/keys",
        Some(&json!({"name": "mcp bench", "permission": "use", "entityId": "alice"})),
    );
    created["key"].as_str().unwrap().to_string()
}

/// Opens an MCP session at `/mcp`; the headers each later request sends.
fn http_session(kp: &Server, key: &str) -> Vec<(&'static str, String)> {
    let url = format!("{}/mcp", kp.url);
    let auth = format!("Bearer {key}");
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}});
    let answer = agent()
        .post(&url)
        .header("authorization", &auth)
        .send_json(&init)
        .unwrap();
    let session = answer.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    vec![
        ("Authorization", auth),
        ("Mcp-Session-Id", session),
        ("MCP-Protocol-Version", "2025-11-25".into()),
        ("Accept", "application/json, text/event-stream".into()),
    ]
}

fn http_target(kp: &Server, headers: &[(&'static str, String)], id: &str) -> Target {
    let mut target = Target::get(&format!("{}/mcp", kp.url));
    for (name, value) in headers {
        target = target.header(name, value);
    }
    target.post_json(&tool_call(id).to_string())
}

/// `keyport mcp serve` for alice under `key_file`, initialized.
struct Spawned {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Spawned {
    fn start(kp: &Server, key_file: &Path) -> Spawned {
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(&kp.dir)
            .args(["--url", &kp.url, "mcp", "serve", "--entity", "alice"])
            .arg("--key-file")
            .arg(key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut s = Spawned {
            child,
            stdin,
            stdout,
        };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}});
        s.call(&init.to_string());
        s.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        s
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    fn call(&mut self, line: &str) -> Value {
        self.send(line);
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `q` quantile of `samples`, in microseconds.
fn quantile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i].as_secs_f64() * 1e6
}

/// Sequential calls through stdio and through the API, alternated in blocks; the
/// latencies of each.
fn sequential(kp: &Server, key: &str, key_file: &Path, id: &str) -> (Vec<Duration>, Vec<Duration>) {
    let mut stdio = Spawned::start(kp, key_file);
    let line = tool_call(id).to_string();
    let api = agent();
    let url = format!("{}/api/v2/actions/proxy", kp.url);
    let body = api_body(id);
    let through_api = || {
        let started = Instant::now();
        let answer: Value = api
            .post(&url)
            .header("x-api-key", key)
            .send_json(&body)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        started.elapsed()
    };
    let mut through_stdio = || {
        let started = Instant::now();
        let answer = stdio.call(&line);
        let took = started.elapsed();
        succeeded(&answer);
        took
    };
    for _ in 0..WARM {
        through_api();
        through_stdio();
    }
    let (mut mcp, mut direct) = (Vec::with_capacity(CALLS), Vec::with_capacity(CALLS));
    while mcp.len() < CALLS {
        mcp.extend((0..BLOCK).map(|_| through_stdio()));
        direct.extend((0..BLOCK).map(|_| through_api()));
    }
    (mcp, direct)
}

/// One `keyport_proxy` call through `/mcp` and one through `keyport mcp serve`, each a
/// successful result: the bench's MCP paths work (run by the smoke run).
pub fn smoke(kp: &Server, id: &str, dir: &Path) {
    let key = alice_key(kp);
    let headers = http_session(kp, &key);
    let mut call = agent().post(format!("{}/mcp", kp.url));
    for (name, value) in &headers {
        call = call.header(*name, value);
    }
    succeeded(
        &call
            .send_json(tool_call(id))
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap(),
    );
    let key_file = dir.join("mcp-key");
    std::fs::write(&key_file, &key).unwrap();
    succeeded(&Spawned::start(kp, &key_file).call(&tool_call(id).to_string()));
}

pub fn section_mcp(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== keyport_proxy through MCP vs through POST /api/v2/actions/proxy");
    let upstream = Upstream::answering(Duration::ZERO);
    let (kp, id) = with_connection(&root.join("mcp"), &upstream.base);
    let key = alice_key(&kp);

    let headers = http_session(&kp, &key);
    let mcp = http_target(&kp, &headers, &id);
    let mut check = agent().post(&mcp.url);
    for (name, value) in &headers {
        check = check.header(*name, value);
    }
    succeeded(
        &check
            .send_json(tool_call(&id))
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap(),
    );
    let api = Target::get(&format!("{}/api/v2/actions/proxy", kp.url))
        .key(&key)
        .post_json(&api_body(&id).to_string());
    let f = w.alternate(
        &[("mcp-http", &mcp), ("mcp-api", &api)],
        s.load(s.connections),
        s.rounds,
    );
    r.compared(
        &format!(
            "keyport_proxy over Streamable HTTP (`/mcp`), {} connections",
            s.connections
        ),
        (&f[0], &f[1]),
        "same GET via POST /api/v2/actions/proxy, same key",
        Goal::ratio(0.8),
    );

    let key_file = root.join("mcp-key");
    std::fs::write(&key_file, &key).unwrap();
    let (mut stdio, mut direct) = sequential(&kp, &key, &key_file, &id);
    let (p50, p50_api) = (quantile(&mut stdio, 0.5), quantile(&mut direct, 0.5));
    let (p99, p99_api) = (quantile(&mut stdio, 0.99), quantile(&mut direct, 0.99));
    let added = p50 - p50_api;
    r.row(
        &format!("keyport_proxy over stdio (`keyport mcp serve`), {CALLS} calls one at a time"),
        (
            format!("p50 {}, p99 {}", ms(p50), ms(p99)),
            format!("via the API: p50 {}, p99 {}", ms(p50_api), ms(p99_api)),
        ),
        &format!("+{} p50", ms(added)),
        ("added p50 ≤ 1 ms", Some(added <= 1000.0)),
    );
}
