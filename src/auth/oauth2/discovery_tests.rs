use super::*;

fn server(doc: Value) -> ServerMetadata {
    let mut base = json!({
        "issuer": "https://as.example",
        "authorization_endpoint": "https://as.example/auth",
        "token_endpoint": "https://as.example/token",
    });
    base.as_object_mut()
        .unwrap()
        .extend(doc.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

#[test]
fn a_bearer_challenge_gives_its_parameters_quoted_or_not() {
    let c = Challenge::parse(
        r#"Bearer error="invalid_token", error_description="Authentication \"required\"", resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", scope=files:read"#,
    )
    .unwrap();
    assert_eq!(c.error.as_deref(), Some("invalid_token"));
    assert_eq!(
        c.error_description.as_deref(),
        Some("Authentication \"required\"")
    );
    assert_eq!(
        c.resource_metadata.as_deref(),
        Some("https://mcp.example/.well-known/oauth-protected-resource/mcp")
    );
    assert_eq!(c.scope.as_deref(), Some("files:read"));
    assert!(!c.insufficient_scope());
    let step_up = Challenge::parse(r#"bearer error="insufficient_scope", scope="a b""#).unwrap();
    assert!(step_up.insufficient_scope());
    assert_eq!(step_up.scope.as_deref(), Some("a b"));
    assert_eq!(Challenge::parse("Basic realm=\"x\""), None);
    assert_eq!(Challenge::parse("Bearer"), Some(Challenge::default()));
}

#[test]
fn metadata_is_looked_for_in_the_specs_order() {
    let mcp = Url::parse("https://mcp.example/v1/mcp").unwrap();
    assert_eq!(
        metadata_candidates(&mcp, Some("https://mcp.example/prm")),
        [
            "https://mcp.example/prm",
            "https://mcp.example/.well-known/oauth-protected-resource/v1/mcp",
            "https://mcp.example/.well-known/oauth-protected-resource",
        ]
    );
    let root = Url::parse("https://mcp.example/").unwrap();
    assert_eq!(
        metadata_candidates(&root, None),
        ["https://mcp.example/.well-known/oauth-protected-resource"]
    );
    let issuer = Url::parse("https://as.example/tenant1").unwrap();
    assert_eq!(
        server_candidates(&issuer),
        [
            "https://as.example/.well-known/oauth-authorization-server/tenant1",
            "https://as.example/.well-known/openid-configuration/tenant1",
            "https://as.example/tenant1/.well-known/openid-configuration",
        ]
    );
    assert_eq!(
        server_candidates(&Url::parse("https://as.example").unwrap()),
        [
            "https://as.example/.well-known/oauth-authorization-server",
            "https://as.example/.well-known/openid-configuration",
        ]
    );
}

#[test]
fn the_resource_is_canonical_and_plain_http_only_on_loopback() {
    assert_eq!(
        canonical_resource("HTTPS://MCP.Example/mcp#x").unwrap(),
        "https://mcp.example/mcp"
    );
    assert_eq!(
        canonical_resource("https://mcp.example/").unwrap(),
        "https://mcp.example"
    );
    assert_eq!(
        canonical_resource("http://127.0.0.1:8000/mcp").unwrap(),
        "http://127.0.0.1:8000/mcp"
    );
    for bad in [
        "http://mcp.example/mcp",
        "ftp://mcp.example/",
        "https://u:p@mcp.example/",
        "not a url",
    ] {
        assert!(canonical_resource(bad).is_err(), "{bad}");
    }
    let remote = Reach { local: false };
    assert!(remote.check("x", "http://127.0.0.1/token").is_err());
    assert!(remote.check("x", "https://as.example/token").is_ok());
    // A remote server's documents cannot send keyport to internal addresses.
    for internal in [
        "https://127.0.0.1/t",
        "https://10.1.2.3/t",
        "https://192.168.0.1/t",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/t",
        "https://[fd00::1]/t",
        "https://[fe80::1]/t",
        "https://[::ffff:10.0.0.1]/t",
        "https://localhost/t",
    ] {
        assert!(remote.check("x", internal).is_err(), "{internal}");
    }
    let local = Reach { local: true };
    assert!(local.check("x", "http://127.0.0.1:9/token").is_ok());
    assert!(local.check("x", "http://10.0.0.1/token").is_err());
    assert!(local.check("x", "javascript:alert(1)").is_err());
}

#[test]
fn registration_asks_for_a_native_public_client_with_both_grants() {
    let s = server(json!({
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "scopes_supported": ["openid", "offline_access"],
    }));
    let body = registration_request(&s, "http://127.0.0.1:7790/callback/mcp");
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        body["redirect_uris"],
        json!(["http://127.0.0.1:7790/callback/mcp"])
    );
    assert!(body.get("scope").is_none());
    // Without a published list, RFC 8414's default is client_secret_basic alone.
    let plain = server(json!({}));
    assert_eq!(ClientAuth::preferred(&plain), ClientAuth::Basic);
    let only_post =
        server(json!({"token_endpoint_auth_methods_supported": ["client_secret_post"]}));
    assert_eq!(ClientAuth::preferred(&only_post), ClientAuth::Post);
}

#[test]
fn a_refused_registration_says_why_briefly() {
    assert_eq!(
        registration_refusal(
            400,
            br#"{"error":"invalid_client_metadata","error_description":"no\nway"}"#
        ),
        "HTTP 400, invalid_client_metadata: noway"
    );
    assert_eq!(registration_refusal(403, b"<html>"), "HTTP 403");
}
