//! RFC 5849 request signing: the signature base string (§3.4.1: method, base URI without
//! query or default port, the query, an `application/x-www-form-urlencoded` body and the
//! `oauth_*` set, each encoded per §3.6 and sorted) and the signature (HMAC-SHA1,
//! HMAC-SHA256, PLAINTEXT or RSA-SHA1). [`Signer`] signs a connection's requests with a
//! fresh nonce from the system CSPRNG and the service clock's timestamp; the flow steps
//! (`flow.rs`) sign with [`Signing`] directly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SecureRandom as _;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::Consumer;
use crate::auth::AuthError;
use crate::clock::Clock;
use crate::providers::SignatureMethod;

/// Signs requests for one connection: consumer plus token credentials.
pub struct Signer {
    consumer: Consumer,
    token: Option<SecretString>,
    token_secret: SecretString,
    clock: Clock,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("consumer", &self.consumer)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// `token` is the token and its secret; `None` signs with the consumer alone
    /// (two-legged requests).
    pub fn new(consumer: Consumer, token: Option<(&str, &str)>, clock: Clock) -> Signer {
        let (token, token_secret) = match token {
            Some((t, s)) => (Some(SecretString::from(t.to_string())), s.to_string()),
            None => (None, String::new()),
        };
        Signer {
            consumer,
            token,
            token_secret: SecretString::from(token_secret),
            clock,
        }
    }

    /// The `Authorization` header value for one request, with a fresh nonce and the
    /// clock's time.
    pub fn authorization(
        &self,
        method: &http::Method,
        url: &Url,
        form_body: Option<&[u8]>,
    ) -> Result<SecretString, AuthError> {
        let request = Signing {
            consumer: &self.consumer,
            token: self.token.as_ref().map(|t| t.expose_secret()),
            token_secret: self.token_secret.expose_secret(),
            protocol: &[],
            nonce: &nonce()?,
            timestamp: self.clock.unix(),
        };
        request.header(method.as_str(), url, form_body)
    }
}

/// One signature computation; everything that varies per request is explicit.
pub(super) struct Signing<'a> {
    pub consumer: &'a Consumer,
    pub token: Option<&'a str>,
    pub token_secret: &'a str,
    /// Flow parameters beside the fixed set: `oauth_callback`, `oauth_verifier`.
    pub protocol: &'a [(&'a str, &'a str)],
    pub nonce: &'a str,
    pub timestamp: i64,
}

impl Signing<'_> {
    /// The `oauth_*` parameters, without the signature.
    fn oauth_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("oauth_consumer_key".to_string(), self.consumer.key.clone()),
            ("oauth_nonce".to_string(), self.nonce.to_string()),
            (
                "oauth_signature_method".to_string(),
                self.consumer.method.as_str().to_string(),
            ),
            ("oauth_timestamp".to_string(), self.timestamp.to_string()),
            ("oauth_version".to_string(), "1.0".to_string()),
        ];
        if let Some(token) = self.token {
            params.push(("oauth_token".to_string(), token.to_string()));
        }
        for (k, v) in self.protocol {
            params.push(((*k).to_string(), (*v).to_string()));
        }
        params
    }

    pub(super) fn header(
        &self,
        method: &str,
        url: &Url,
        form_body: Option<&[u8]>,
    ) -> Result<SecretString, AuthError> {
        let mut params = self.oauth_params();
        let base = base_string(method, url, form_body, &params);
        let signature = self.signature(&base)?;
        params.push(("oauth_signature".to_string(), signature));
        params.sort();
        let fields: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v)))
            .collect();
        Ok(SecretString::from(format!("OAuth {}", fields.join(", "))))
    }

    /// §3.4.2–3.4.4: the signature over `base`.
    fn signature(&self, base: &str) -> Result<String, AuthError> {
        let key = format!(
            "{}&{}",
            encode(self.consumer.secret.expose_secret()),
            encode(self.token_secret)
        );
        let key = zeroize::Zeroizing::new(key);
        let hmac = |algorithm| {
            let key = ring::hmac::Key::new(algorithm, key.as_bytes());
            STANDARD.encode(ring::hmac::sign(&key, base.as_bytes()).as_ref())
        };
        Ok(match self.consumer.method {
            SignatureMethod::HmacSha1 => hmac(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            SignatureMethod::HmacSha256 => hmac(ring::hmac::HMAC_SHA256),
            SignatureMethod::Plaintext => key.to_string(),
            SignatureMethod::RsaSha1 => {
                let rsa_key =
                    self.consumer.rsa_key.as_ref().ok_or_else(|| {
                        AuthError::field("private_key", "is required for RSA-SHA1")
                    })?;
                let digest =
                    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, base.as_bytes());
                // RFC 8017 §9.2 note 1: the DER DigestInfo prefix for SHA-1.
                const SHA1_DIGEST_INFO: [u8; 15] = [
                    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
                    0x04, 0x14,
                ];
                let padding = rsa::Pkcs1v15Sign {
                    hash_len: Some(20),
                    prefix: Box::new(SHA1_DIGEST_INFO),
                };
                let signature = rsa_key.sign(padding, digest.as_ref()).map_err(|_| {
                    AuthError::field("private_key", "could not sign with this RSA key")
                })?;
                STANDARD.encode(signature)
            }
        })
    }
}

/// §3.4.1: `METHOD&base-uri&normalized-parameters`, each part encoded per §3.6.
fn base_string(
    method: &str,
    url: &Url,
    form_body: Option<&[u8]>,
    oauth_params: &[(String, String)],
) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .chain(form_body.into_iter().flat_map(url::form_urlencoded::parse))
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    params.extend(oauth_params.iter().map(|(k, v)| (encode(k), encode(v))));
    params.sort();
    let normalized: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(&base_uri(url)),
        encode(&normalized.join("&"))
    )
}

/// §3.4.1.2: scheme and host lower-case, the port only when not the scheme's default, the
/// path (`/` when empty), no query or fragment.
fn base_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    format!("{}://{host}{port}{path}", url.scheme().to_ascii_lowercase())
}

/// §3.6: every byte but ALPHA, DIGIT, `-`, `.`, `_`, `~` as `%XX` with upper-case hex.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// 22 random alphanumerics (≈131 bits) from the system CSPRNG.
pub(super) fn nonce() -> Result<String, AuthError> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(22);
    while out.len() < 22 {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)
            .map_err(|_| AuthError::Invalid("the system random generator failed".into()))?;
        // Rejection sampling keeps every character equally likely (248 = 4 × 62).
        for byte in bytes.into_iter().filter(|b| *b < 248) {
            if out.len() < 22 {
                out.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn encoding_follows_section_3_6() {
        assert_eq!(encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
        assert_eq!(encode("An encoded string!"), "An%20encoded%20string%21");
        assert_eq!(encode("Dogs, Cats & Mice"), "Dogs%2C%20Cats%20%26%20Mice");
        assert_eq!(encode("☃"), "%E2%98%83");
        assert_eq!(encode("-._~azAZ09"), "-._~azAZ09");
    }

    #[test]
    fn base_string_matches_the_rfc_5849_example() {
        // RFC 5849 §3.4.1.1: query, form body and Authorization parameters together.
        let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let oauth = pairs(&[
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]);
        let base = base_string("post", &url, Some(b"c2&a3=2+q"), &oauth);
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn base_uri_drops_default_ports_query_and_fragment() {
        let cases = [
            (
                "HTTP://EXAMPLE.COM:80/r%20v/X?id=123",
                "http://example.com/r%20v/X",
            ),
            (
                "https://www.example.net:8080/?q=1",
                "https://www.example.net:8080/",
            ),
            ("https://api.example.com:443", "https://api.example.com/"),
            ("http://127.0.0.1:9000/a#frag", "http://127.0.0.1:9000/a"),
        ];
        for (raw, expected) in cases {
            assert_eq!(base_uri(&Url::parse(raw).unwrap()), expected, "{raw}");
        }
    }

    fn consumer(method: SignatureMethod) -> Consumer {
        Consumer::new("ck", Some("cs"), method, None).unwrap()
    }

    #[test]
    fn plaintext_signature_is_the_encoded_key_pair() {
        let c = consumer(SignatureMethod::Plaintext);
        let s = Signing {
            consumer: &c,
            token: Some("t"),
            token_secret: "t s&",
            protocol: &[],
            nonce: "n",
            timestamp: 1_700_000_000,
        };
        assert_eq!(s.signature("ignored").unwrap(), "cs&t%20s%26");
        let header = s
            .header("GET", &Url::parse("https://a.example/x").unwrap(), None)
            .unwrap();
        assert!(
            header
                .expose_secret()
                .contains("oauth_signature=\"cs%26t%2520s%2526\""),
            "{}",
            header.expose_secret()
        );
    }

    #[test]
    fn hmac_signatures_are_deterministic_and_cover_the_request() {
        for method in [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256] {
            let c = consumer(method);
            let s = Signing {
                consumer: &c,
                token: Some("tok"),
                token_secret: "ts",
                protocol: &[],
                nonce: "abc",
                timestamp: 1_700_000_000,
            };
            let url = Url::parse("https://a.example/x?b=1").unwrap();
            let one = s.header("GET", &url, None).unwrap();
            let again = s.header("GET", &url, None).unwrap();
            let other_url = s
                .header("GET", &Url::parse("https://a.example/x?b=2").unwrap(), None)
                .unwrap();
            let other_body = s.header("POST", &url, Some(b"c=3")).unwrap();
            assert_eq!(one.expose_secret(), again.expose_secret());
            assert_ne!(one.expose_secret(), other_url.expose_secret());
            assert_ne!(one.expose_secret(), other_body.expose_secret());
            let h = one.expose_secret();
            assert!(h.starts_with("OAuth "), "{h}");
            for part in [
                "oauth_consumer_key=\"ck\"",
                "oauth_token=\"tok\"",
                "oauth_nonce=\"abc\"",
                "oauth_timestamp=\"1700000000\"",
                "oauth_version=\"1.0\"",
                &format!("oauth_signature_method=\"{}\"", method.as_str()),
            ] {
                assert!(h.contains(part), "{part} missing in {h}");
            }
            assert!(!h.contains("cs") && !h.contains("\"ts\""), "{h}");
        }
    }

    #[test]
    fn nonces_are_alphanumeric_and_distinct() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
