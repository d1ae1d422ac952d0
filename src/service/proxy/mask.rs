//! Masking injected secrets in what a provider sends back. Some providers echo request
//! headers or URLs (debug endpoints, error pages, "request" fields), some of them encoded;
//! the caller must not learn the credential that way. Every injected value — whole, after
//! its scheme word (`Bearer x` → `x`) or after a `name=` prefix — is replaced by
//! `********` in the answer's headers and body wherever it appears (for HTTP Basic, also
//! `user:password` and the password, decoded):
//! - as it is, or percent-encoded in any mix (each byte literal or `%XX` in either case,
//!   a space also as `+`), which covers form and URL encodings however an upstream chose
//!   which bytes to escape;
//! - base64, standard and URL-safe, padded or not, at any alignment inside a longer
//!   base64 text (each of the three byte offsets gives a run of characters that depends on
//!   the secret alone; that run is masked, leaving at most one character at each end);
//! - hex, lower- or upper-case.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use secrecy::ExposeSecret;

use crate::auth::Injection;

/// Secret values shorter than this are not masked in answers (they would mask ordinary
/// text); real credentials are far longer.
pub const MIN_MASKED_SECRET: usize = 8;

/// The characters of base64 text that depend on `secret` alone when it starts `offset`
/// bytes (0..3) into the encoded data: whole 6-bit groups inside the secret's bits.
fn base64_core(secret: &[u8], offset: usize, url_safe: bool) -> Vec<u8> {
    let mut data = vec![0u8; offset];
    data.extend_from_slice(secret);
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    let text = engine.encode(&data).into_bytes();
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + secret.len())) / 6;
    text.get(first..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Every encoded form of `value` to look for, besides the value itself.
fn encodings(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for offset in 0..3 {
        for url_safe in [false, true] {
            out.push(base64_core(value, offset, url_safe));
        }
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let lower: Vec<u8> = value
        .iter()
        .flat_map(|&b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect();
    out.push(lower.to_ascii_uppercase());
    out.push(lower);
    out
}

/// For `Basic base64(user:password)`, what the provider reads out of it: `user:password`
/// and the password, which an upstream may echo decoded.
fn basic_parts(value: &str) -> Vec<String> {
    let Some(encoded) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Vec::new();
    };
    let Some(decoded) = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
    else {
        return Vec::new();
    };
    let password = decoded.split_once(':').map(|(_, p)| p.to_string());
    std::iter::once(decoded).chain(password).collect()
}

/// The secret values of an injection worth masking in answers, and their encodings: each
/// full value, and the part after a scheme word (`Bearer x` → `x`) or a `name=` prefix.
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
        candidates.extend(basic_parts(value));
        let mut forms: Vec<Vec<u8>> = Vec::new();
        for c in candidates
            .into_iter()
            .filter(|c| c.len() >= MIN_MASKED_SECRET)
        {
            forms.extend(encodings(c.as_bytes()));
            forms.push(c.into_bytes());
        }
        for form in forms {
            if form.len() >= MIN_MASKED_SECRET && !out.contains(&form) {
                out.push(form);
            }
        }
    }
    // Longest first, so a full value is masked before its suffix.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The length of `secret` written at the start of `hay` with each byte literal or
/// percent-encoded (a space also as `+`), if it is there.
fn match_at(hay: &[u8], secret: &[u8]) -> Option<usize> {
    let (&want, rest) = match secret.split_first() {
        Some(split) => split,
        None => return Some(0),
    };
    let &got = hay.first()?;
    let encoded = (got == b'%')
        .then(|| Some(hex_digit(*hay.get(1)?)? << 4 | hex_digit(*hay.get(2)?)?))
        .flatten();
    if got == want || (want == b' ' && got == b'+') {
        // A literal `%` in the secret may also be `%25` in the answer: try both.
        if let Some(n) = match_at(&hay[1..], rest) {
            return Some(1 + n);
        }
    }
    match encoded {
        Some(byte) if byte == want => match_at(&hay[3..], rest).map(|n| 3 + n),
        _ => None,
    }
}

/// Where `secret` first occurs in `hay` (literal or percent-encoded), and how long it is
/// there.
fn next_match(hay: &[u8], secret: &[u8]) -> Option<(usize, usize)> {
    let first = *secret.first()?;
    let starts = |b: &u8| *b == first || *b == b'%' || (first == b' ' && *b == b'+');
    let mut from = 0;
    while let Some(at) = hay[from..].iter().position(starts) {
        let pos = from + at;
        if let Some(len) = match_at(&hay[pos..], secret) {
            return Some((pos, len));
        }
        from = pos + 1;
    }
    None
}

/// `bytes` with every occurrence of each secret (literal or percent-encoded) replaced by
/// `********`. An answer without any is returned as it came, without a copy.
pub fn mask(bytes: Vec<u8>, secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut current = bytes;
    for secret in secrets {
        if current.len() < secret.len() {
            continue;
        }
        let Some((mut pos, mut len)) = next_match(&current, secret) else {
            continue;
        };
        let mut out = Vec::with_capacity(current.len());
        let mut from = 0;
        loop {
            out.extend_from_slice(&current[from..pos]);
            out.extend_from_slice(crate::secret::REDACTED.as_bytes());
            from = pos + len;
            match next_match(&current[from..], secret) {
                Some((at, n)) => (pos, len) = (from + at, n),
                None => break,
            }
        }
        out.extend_from_slice(&current[from..]);
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

    /// Every encoding of the secret, alone or inside other text, loses every run of the
    /// secret's characters longer than what masking leaves at an edge.
    #[test]
    fn encoded_secrets_are_masked() {
        let secret = "tok_Se+cr/et=99~%x";
        let injection = Injection::bearer(secret);
        let secrets = masked_values(&injection);
        let b = secret.as_bytes();
        let prefixed = |p: &[u8]| [p, b, b"!"].concat();
        let percent_all: String = b.iter().map(|c| format!("%{c:02X}")).collect();
        let percent_lower = percent_all.to_ascii_lowercase();
        let forms: Vec<String> = vec![
            secret.to_string(),
            format!("Bearer {secret}"),
            url::form_urlencoded::byte_serialize(b).collect(),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            percent_all,
            percent_lower,
            STANDARD.encode(b),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(b),
            URL_SAFE.encode(b),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
            STANDARD.encode(prefixed(b"a")),
            STANDARD.encode(prefixed(b"ab")),
            URL_SAFE.encode(prefixed(b"user:")),
            STANDARD.encode(format!("Bearer {secret}")),
            hex::encode(b),
            hex::encode_upper(b),
            hex::encode(prefixed(b"zz")),
        ];
        for form in forms {
            let body = format!(r#"{{"echo":"{form}","n":1}}"#);
            let masked =
                String::from_utf8(mask(body.clone().into_bytes(), &secrets)).unwrap_or_default();
            assert!(masked.contains("********"), "{form} not masked: {masked}");
            // What is left of the form: only what the other bytes around the secret
            // encode, and at most a character at each edge of a base64 run.
            let echoed = masked
                .strip_prefix(r#"{"echo":""#)
                .and_then(|m| m.strip_suffix(r#"","n":1}"#))
                .unwrap_or_default();
            let kept = echoed.replace("********", "").len();
            assert!(kept <= 12 && form.len() >= 18, "{form}: {masked}");
        }
    }
}
