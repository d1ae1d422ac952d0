use super::*;

#[test]
fn names_and_scopes_are_checked() {
    assert!(valid_server_name("linear-prod_1.x").is_ok());
    for bad in ["", "a b", "a/b", &"x".repeat(65), "é"] {
        assert!(valid_server_name(bad).is_err(), "{bad:?}");
    }
    assert!(valid_scope("mcp:admin"));
    assert!(!valid_scope("a\"b"));
    assert!(!valid_scope("a\\b"));
    assert!(!valid_scope("\u{7f}"));
}

#[test]
fn a_fingerprint_is_the_tokens_sha256() {
    assert_eq!(
        fingerprint("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
