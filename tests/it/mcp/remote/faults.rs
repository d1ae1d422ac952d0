//! What goes wrong fails closed, says why, and sends no token request: metadata and
//! registration faults, an `iss` that names another server, a server that refuses the
//! token's audience; and what the host sees without a login, or with too little scope.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Rig, call};
use crate::common::peers;

/// Every request the token endpoint got, whatever its grant.
fn token_requests(stats: &Value) -> u64 {
    stats["token"]
        .as_object()
        .map(|grants| grants.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// `keyport mcp add` refused with `why`; nothing registered, no token asked for, no server
/// kept.
fn refused_add(rig: &Rig, why: &str) {
    let out = rig.keyport(&["mcp", "add", "remote", &rig.remote.url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "mcp add succeeded");
    assert!(stderr.contains(why), "{why:?} not in {stderr}");
    assert!(stderr.contains("mcp_discovery_failed"), "{stderr}");
    let stats = rig.idp.stats();
    assert_eq!(stats["registrations"], 0, "{stats}");
    assert_eq!(token_requests(&stats), 0, "no token request: {stats}");
    let listed = rig.keyport(&["mcp", "servers"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&listed.stdout).unwrap(),
        json!([])
    );
}

#[test]
fn metadata_and_registration_faults_fail_closed_with_a_clear_message() {
    let no_prm = Rig::start(3600, &["--no-prm"]);
    refused_add(
        &no_prm,
        "publishes no protected resource metadata (RFC 9728)",
    );

    // The resource metadata names an authorization server whose metadata is for another
    // issuer (the same server under another name).
    let foreign = Rig::start(3600, &["--foreign-issuer", super::AS_AS_LOCALHOST]);
    let named = foreign.idp.issuer.replace("127.0.0.1", "localhost");
    refused_add(&foreign, &format!("not {named:?} (RFC 8414 §3.3); refused"));

    let no_pkce = Rig::start(3600, &[]);
    no_pkce.idp.configure(&json!({"strip_pkce_metadata": true}));
    refused_add(
        &no_pkce,
        "does not advertise PKCE (code_challenge_methods_supported",
    );

    let no_dcr = Rig::start(3600, &[]);
    no_dcr.idp.configure(&json!({"refuse_registration": true}));
    refused_add(
        &no_dcr,
        "refused keyport's registration (HTTP 400, invalid_client_metadata",
    );
    assert_eq!(no_dcr.idp.stats()["registrations_refused"], 1);
}

#[test]
fn an_answer_naming_another_issuer_is_refused_before_any_token_request() {
    let rig = Rig::start(3600, &[]);
    let added = rig.add("remote");
    rig.idp
        .configure(&json!({"iss_override": "http://127.0.0.1:9/elsewhere"}));
    let (id, url) = rig.start_login(&added, "alice");
    let page = peers::drive(&url, &[]);
    assert!(
        page["text"].as_str().unwrap().contains("iss mismatch"),
        "{page}"
    );
    let connection = rig.server.connection(&id);
    assert_eq!(connection["status"], "FAILED", "{connection}");
    assert_eq!(token_requests(&rig.idp.stats()), 0, "no code exchange");
}

#[test]
fn a_token_refused_for_its_audience_is_reported_not_retried_in_a_loop() {
    let rig = Rig::start(3600, &["--audience", "http://127.0.0.1:9/another-server"]);
    let added = rig.add("remote");
    rig.login(&added, "alice");
    let refreshes = rig.idp.token_calls("refresh_token");
    let unauthorized = rig.remote.stats()["unauthorized"].as_u64().unwrap();
    let (summary, stderr) = rig.host(
        "remote",
        "alice",
        &["--call", "echo", "--args", r#"{"text":"x"}"#],
    );
    let said = summary.to_string();
    assert!(
        said.contains("refused keyport's token again after a refresh"),
        "{summary}\n{stderr}"
    );
    assert!(said.contains("another audience"), "{summary}");
    let remote = rig.remote.stats();
    assert_eq!(
        remote["unauthorized"].as_u64().unwrap() - unauthorized,
        2,
        "one try and one retry: {remote}"
    );
    assert_eq!(
        rig.idp.token_calls("refresh_token"),
        refreshes + 1,
        "one shared renewal"
    );
}

#[test]
fn without_a_login_the_host_gets_the_link_and_the_session_opens_once_signed_in() {
    let rig = Rig::start(3600, &[]);
    rig.add("remote");
    // A host with URL elicitation: the spec's -32042 with keyport's connect link.
    let (summary, _) = rig.host(
        "remote",
        "alice",
        &[
            "--declare-url-elicitation",
            "--call",
            "echo",
            "--args",
            r#"{"text":"x"}"#,
        ],
    );
    assert_eq!(summary["initialized"], true, "{summary}");
    assert_eq!(
        summary["tools"],
        json!([]),
        "no tools before a login: {summary}"
    );
    let error = &call(&summary, "echo")["error"];
    assert_eq!(error["code"], -32042, "{summary}");
    let link = error["data"]["elicitations"][0]["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/connect/", rig.server.url)),
        "{link}"
    );
    // A host without it: a tool error carrying the link.
    let (plain, _) = rig.host(
        "remote",
        "alice",
        &["--call", "echo", "--args", r#"{"text":"x"}"#],
    );
    let echo = call(&plain, "echo");
    assert_eq!(echo["is_error"], true, "{plain}");
    assert!(
        echo["text"].as_str().unwrap().contains("/connect/"),
        "{plain}"
    );
    assert_eq!(rig.remote.stats()["tool_calls"], json!({}));

    // A host that started before the sign-in: once the user signs in (with the link it was
    // given), the bridge opens the session, the tool list changes, and calls go through.
    let mut host = rig
        .host_command("remote", "alice", &["--calls", "12", "--interval", "1"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    peers::drive(link, &["--expect-text", "Connected"]);
    let out = host.stdout.take().map(|mut s| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut s, &mut text).unwrap();
        text
    });
    host.wait().unwrap();
    let late: Value = serde_json::from_str(out.unwrap().lines().last().unwrap()).unwrap();
    let results = late["loop"]["results"].as_array().unwrap();
    assert!(
        !results[0]["ok"].as_bool().unwrap(),
        "before the sign-in: {late}"
    );
    assert_eq!(results.last().unwrap()["ok"], true, "after it: {late}");
    let changed = late["notifications"]["other"].to_string();
    assert!(changed.contains("tools/list_changed"), "{late}");
}

#[test]
fn a_step_up_asks_the_user_for_the_wider_scope_then_the_tool_runs() {
    let rig = Rig::start(3600, &[]);
    let added = rig.add("remote");
    rig.login(&added, "alice");
    let args = ["--declare-url-elicitation", "--call", "admin_task"];
    let (summary, _) = rig.host("remote", "alice", &args);
    let error = &call(&summary, "admin_task")["error"];
    assert_eq!(error["code"], -32042, "{summary}");
    assert!(
        error["message"].as_str().unwrap().contains("mcp:admin"),
        "{summary}"
    );
    let link = error["data"]["elicitations"][0]["url"].as_str().unwrap();
    peers::drive(link, &["--expect-text", "Connected"]);
    let (summary, stderr) = rig.host("remote", "alice", &args);
    assert_eq!(
        call(&summary, "admin_task")["text"],
        "admin task done",
        "{summary}\n{stderr}"
    );
    let widened = rig
        .server
        .ok("GET", "/api/v1/audit?limit=1000", None)
        .to_string();
    assert!(
        widened.contains("scopes widened by a step-up with mcp:admin"),
        "the step-up is on the record: {widened}"
    );
    let listed: Value = serde_json::from_slice(&rig.keyport(&["mcp", "servers"]).stdout).unwrap();
    assert!(
        listed[0]["scopes"].to_string().contains("mcp:admin"),
        "{listed}"
    );
}
