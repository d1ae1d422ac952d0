//! No credential back through the proxy: a stand-in provider that reflects what keyport
//! injected — raw, base64 (standard and URL-safe, padded or not, alone or inside other
//! text), hex (lower and upper) and percent-encoded (several ways) — in its body and its
//! headers hands none of it to a `use` key, through the v2 proxy, the v3 proxy or a named
//! action.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::proxy_server;
use crate::common::stand_in::{Recorded, Reply, Upstream};
use crate::common::{Server, call};

const TOKEN: &str = "ghp_Reflect+me/0123456789abcdefXYZ";
const PASSWORD: &str = "p@ss word/9876543210";
const QUERY_KEY: &str = "trello-key-reflected-55aa";

/// Every encoding the stand-in reflects a value in.
fn encodings(value: &str) -> Vec<(&'static str, String)> {
    let bytes = value.as_bytes();
    let all_escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
    vec![
        ("raw", value.to_string()),
        ("b64", STANDARD.encode(bytes)),
        ("b64-nopad", STANDARD_NO_PAD.encode(bytes)),
        ("b64url", URL_SAFE.encode(bytes)),
        ("b64url-nopad", URL_SAFE_NO_PAD.encode(bytes)),
        ("b64-inside", STANDARD.encode(format!("x{value}y"))),
        (
            "b64url-inside",
            URL_SAFE_NO_PAD.encode(format!("{{\"t\":\"{value}\"}}")),
        ),
        ("hex", hex::encode(bytes)),
        ("HEX", hex::encode_upper(bytes)),
        (
            "pct",
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        ),
        ("pct-all", all_escaped.clone()),
        ("pct-lower", all_escaped.to_lowercase()),
        (
            "form",
            url::form_urlencoded::byte_serialize(bytes).collect(),
        ),
    ]
}

/// What keyport injected into `seen`: the Authorization header (whole and after its
/// scheme word, and for Basic the decoded `user:password` and password) and every query
/// value.
fn injected(seen: &Recorded) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(auth) = seen.header("authorization") {
        out.push(auth.to_string());
        if let Some((scheme, rest)) = auth.split_once(' ') {
            out.push(rest.to_string());
            if scheme == "Basic" {
                let decoded = String::from_utf8(STANDARD.decode(rest).unwrap()).unwrap();
                out.extend(decoded.split_once(':').map(|(_, p)| p.to_string()));
                out.push(decoded);
            }
        }
    }
    if let Some((_, query)) = seen.target.split_once('?') {
        out.extend(url::form_urlencoded::parse(query.as_bytes()).map(|(_, v)| v.into_owned()));
    }
    out
}

/// The reflecting provider: every injected value in every encoding, in the body and in
/// `x-echo-*` headers.
fn reflecting() -> Upstream {
    Upstream::start(|seen| {
        let mut body = Map::new();
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        for (i, value) in injected(seen).iter().enumerate() {
            for (name, form) in encodings(value) {
                body.insert(format!("{i}-{name}"), json!(form));
                headers.push((format!("x-echo-{i}-{name}"), form));
            }
        }
        Reply::Send {
            status: 200,
            headers,
            body: Value::Object(body).to_string().into_bytes(),
        }
    })
}

/// The answer holds no encoded form of any of `secrets`, and the provider did reflect
/// them (so the masking, not an empty echo, is what kept them out).
fn nothing_reflected(answer: &Value, secrets: &[&str], what: &str) {
    let text = answer.to_string();
    for secret in secrets {
        for (name, form) in encodings(secret) {
            assert!(
                !text.contains(&form),
                "{what}: {name} of {secret:?} came back: {text}"
            );
        }
    }
    assert!(text.matches("********").count() >= 13, "{what}: {text}");
}

fn use_key(kp: &Server) -> String {
    let body = json!({"name": "agent", "permission": "use", "entityId": "alice"});
    kp.ok("POST", "/api/v1/keys", Some(&body))["key"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_reflected_credential_reaches_a_use_key_in_no_encoding() {
    let kp = proxy_server();
    let key = use_key(&kp);
    let upstream = reflecting();
    let cases = [
        (
            "github",
            "BEARER_TOKEN",
            json!({"token": TOKEN}),
            vec![TOKEN],
        ),
        (
            "twilio",
            "BASIC",
            json!({"username": "AC123", "password": PASSWORD}),
            vec![PASSWORD],
        ),
        (
            "trello",
            "API_KEY",
            json!({"api_key": QUERY_KEY, "token": "trello-token-reflected-77"}),
            vec![QUERY_KEY, "trello-token-reflected-77"],
        ),
    ];
    for (app, scheme, data, secrets) in cases {
        let id = kp.connect(app, scheme, &upstream.base, json!({}), "alice", data);
        let v1 = json!({"connectedAccountId": id, "endpoint": "/echo", "method": "GET"});
        let (status, answer) = call(
            &kp.url,
            "POST",
            "/api/v2/actions/proxy",
            Some(&key),
            Some(&v1),
        );
        assert_eq!(status, 200, "{answer}");
        nothing_reflected(&answer, &secrets, &format!("{app} v2 proxy"));
        let v3 = json!({"connected_account_id": format!("ca_{}", id.replace('-', "")),
            "endpoint": "/echo", "method": "GET"});
        let path = "/api/v3.1/tools/execute/proxy";
        let (status, answer) = call(&kp.url, "POST", path, Some(&key), Some(&v3));
        assert_eq!(status, 200, "{answer}");
        nothing_reflected(&answer, &secrets, &format!("{app} v3 proxy"));
    }
    let id = kp.bearer("github", &upstream.base, "alice", TOKEN);
    let body = json!({"connectedAccountId": id, "input": {}});
    let path = "/api/v2/actions/GITHUB_GET_THE_AUTHENTICATED_USER/execute";
    let (status, answer) = call(&kp.url, "POST", path, Some(&key), Some(&body));
    assert_eq!(status, 200, "{answer}");
    nothing_reflected(&answer, &[TOKEN], "action");
    assert_eq!(upstream.count(), 7);
}
