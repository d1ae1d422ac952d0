//! The audit log's cost on the data plane: the proxy with every call recorded against the
//! same proxy on a server whose audit log is off (`KEYPORT_AUDIT_DAYS=0`), alternated in
//! one run against one upstream.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::{Launch, Server};
use crate::harness::{Settings, bearer_integration, bin, connect};
use crate::report::{Goal, Report};
use crate::upstream::Upstream;
use crate::wrk::{Target, Wrk};

fn server(dir: &Path, audit_days: &str) -> Server {
    let launch = Launch {
        bin: bin(),
        kdf_ms: Some("0".into()),
        ..Launch::default()
    };
    launch
        .log(None)
        .env("KEYPORT_AUDIT_DAYS", audit_days)
        .start_in(dir)
        .unwrap_or_else(|out| panic!("keyport exited with {}", out.status))
}

fn proxy(kp: &Server, base: &str) -> Target {
    let integration = bearer_integration(kp, base);
    let id = connect(kp, &integration, "alice", "ghp_audit_bench");
    let body = json!({"connectedAccountId": id, "endpoint": "/user", "method": "GET"});
    let (status, answer) = kp.proxy(body.clone());
    assert_eq!(status, 200, "{answer}");
    Target::get(&format!("{}/api/v2/actions/proxy", kp.url))
        .key(&kp.admin)
        .post_json(&body.to_string())
}

pub fn section_audit(s: &Settings, w: &Wrk, r: &mut Report, root: &Path) {
    println!("== the audit log's cost: proxy with it on vs off");
    let upstream = Upstream::answering(Duration::ZERO);
    let on = server(&root.join("audit-on"), "90");
    let off = server(&root.join("audit-off"), "0");
    let (with_log, without) = (proxy(&on, &upstream.base), proxy(&off, &upstream.base));
    let f = w.alternate(
        &[("audit-on", &with_log), ("audit-off", &without)],
        s.load(s.connections),
        s.rounds,
    );
    r.compared(
        &format!(
            "proxy GET with the audit log on, {} connections",
            s.connections
        ),
        (&f[0], &f[1]),
        "the same server build with the audit log off",
        Goal::ratio(0.9),
    );
    let verdict = on.ok("GET", "/api/v1/audit/verify", None);
    assert_eq!(verdict["intact"], true, "{verdict}");
    println!(
        "audit: {} records written under load, chain intact",
        verdict["records"]
    );
}
