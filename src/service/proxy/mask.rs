//! Masking injected secrets in what a provider sends back. Some providers echo request
//! headers or URLs (debug endpoints, error pages, "request" fields); the caller must not
//! learn the credential that way, so every injected value — whole, after its scheme word
//! (`Bearer x` → `x`) or after a `name=` prefix, raw and URL-encoded — is replaced by
//! `********` in the answer's headers and body.

use secrecy::ExposeSecret;

use crate::auth::Injection;

/// Secret values shorter than this are not masked in answers (they would mask ordinary
/// text); real credentials are far longer.
pub const MIN_MASKED_SECRET: usize = 8;

/// The secret values of an injection worth masking in answers: each full value, and the
/// part after a scheme word (`Bearer x` → `x`) or a `name=` prefix.
pub fn masked_values(injection: &Injection) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (_, value) in injection.headers.iter().chain(injection.query.iter()) {
        let value = value.expose_secret();
        let mut candidates = vec![value.to_string()];
        if let Some((_, rest)) = value.split_once(' ') {
            candidates.push(rest.to_string());
        }
        let after_name: Vec<String> = candidates
            .iter()
            .filter_map(|c| c.split_once('=').map(|(_, rest)| rest.to_string()))
            .collect();
        candidates.extend(after_name);
        let encoded: Vec<String> = candidates
            .iter()
            .map(|c| url::form_urlencoded::byte_serialize(c.as_bytes()).collect())
            .collect();
        candidates.extend(encoded);
        for c in candidates {
            if c.len() >= MIN_MASKED_SECRET && !out.iter().any(|o| o == c.as_bytes()) {
                out.push(c.into_bytes());
            }
        }
    }
    // Longest first, so a full value is masked before its suffix.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

/// `bytes` with every occurrence of each secret replaced by `********`.
pub fn mask(bytes: Vec<u8>, secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut current = bytes;
    for secret in secrets {
        let Some(&first) = secret.first() else {
            continue;
        };
        if current.len() < secret.len() {
            continue;
        }
        let mut out = Vec::with_capacity(current.len());
        let mut rest = current.as_slice();
        while let Some(at) = rest.iter().position(|b| *b == first) {
            out.extend_from_slice(&rest[..at]);
            rest = &rest[at..];
            if rest.starts_with(secret) {
                out.extend_from_slice(crate::secret::REDACTED.as_bytes());
                rest = &rest[secret.len()..];
            } else {
                out.push(first);
                rest = &rest[1..];
            }
        }
        out.extend_from_slice(rest);
        current = out;
    }
    current
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn echoed_secrets_are_masked() {
        let injection = Injection {
            headers: vec![(
                "Authorization".into(),
                SecretString::from("Bearer ghp_0123456789abcdef".to_string()),
            )],
            query: vec![(
                "key".into(),
                SecretString::from("k3y/with space".to_string()),
            )],
            ..Injection::default()
        };
        let secrets = masked_values(&injection);
        let echoed = br#"{"auth":"Bearer ghp_0123456789abcdef","tok":"ghp_0123456789abcdef","q":"k3y%2Fwith+space","raw":"k3y/with space"}"#;
        let masked = String::from_utf8(mask(echoed.to_vec(), &secrets)).unwrap_or_default();
        assert!(!masked.contains("ghp_"), "{masked}");
        assert!(!masked.contains("k3y"), "{masked}");
        assert_eq!(masked.matches("********").count(), 4, "{masked}");
        // Short values are left alone rather than masking ordinary text.
        let short = Injection::bearer("t");
        assert_eq!(mask(b"tt".to_vec(), &masked_values(&short)), b"tt");
        assert_eq!(mask(b"xx".to_vec(), &[b"x".to_vec()]), b"****************");
        assert!(
            masked_values(&short)
                .iter()
                .all(|s| s.len() >= MIN_MASKED_SECRET)
        );
    }
}
