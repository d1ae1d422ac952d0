//! What the schemes that talk to a provider share: one way to send a token-endpoint
//! request and read its refusal (BASIC_WITH_JWT logins, service-account assertions, OAuth
//! 1.0a flow steps; OAuth 2.0 goes through the `oauth2` crate), and PEM decoding for the
//! RSA keys of service accounts and OAuth 1.0a RSA-SHA1.
//!
//! A refusal is [`AuthError::Rejected`] with the provider's short reason, made safe to show:
//! printable, bounded, and dropped when it quotes a secret that was sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{AuthError, RenewError};
use crate::net::{Net, NetError};

/// Token responses are small; a megabyte is generous.
pub const MAX_TOKEN_RESPONSE: u64 = 1024 * 1024;

/// `": reason"`, or nothing when there is no reason.
pub(crate) fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Maps a transport failure to the auth layer's error (no URL, no body).
pub(crate) fn net_error(e: NetError) -> AuthError {
    match e {
        NetError::Timeout => AuthError::Timeout,
        other => AuthError::Upstream(format!("the token endpoint failed: {other}")),
    }
}

/// A login's or an assertion's failure as the token lifecycle sees it: a refusal (400/401)
/// means the credential no longer works; transport trouble is worth retrying; anything else
/// is our side's problem and nothing was sent.
pub(crate) fn renew_error(e: AuthError) -> RenewError {
    match e {
        AuthError::Rejected { status, reason } => RenewError::Dead(format!(
            "the token endpoint refused the credentials (HTTP {status}{})",
            reason_suffix(&reason)
        )),
        AuthError::Upstream(_) | AuthError::Timeout => RenewError::Transient(e),
        other => RenewError::Unusable(other),
    }
}

/// A setting resolved when the connection was opened, whose error surfaces only when a
/// renewal needs it.
pub(crate) fn usable<T>(setting: &Result<T, AuthError>) -> Result<&T, RenewError> {
    setting
        .as_ref()
        .map_err(|e| RenewError::Unusable(e.clone()))
}

/// A `token_url` setting (or the catalog's) with the connection's variables filled in.
pub(crate) fn token_url(
    setting: Option<&str>,
    catalog: Option<&str>,
    vars: &serde_json::Map<String, Value>,
) -> Result<String, AuthError> {
    let template = setting
        .or(catalog)
        .ok_or_else(|| AuthError::field("token_url", "is required"))?;
    crate::providers::fields::render_template(template, vars)
        .map_err(|e| AuthError::field(e.field, e.reason))
}

/// Sends a token-endpoint request and returns the body of a 2xx answer. 400 and 401 are
/// [`AuthError::Rejected`] with the provider's short reason; anything else is upstream
/// trouble. `secrets` are values that must never appear in an error (a reason quoting one
/// is dropped).
pub(crate) fn token_endpoint(
    net: &Net,
    request: http::Request<Vec<u8>>,
    secrets: &[&str],
) -> Result<Vec<u8>, AuthError> {
    let response = net.send(request).map_err(net_error)?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response.into_body());
    }
    let reason = provider_reason(response.body(), secrets);
    match status {
        400 | 401 => Err(AuthError::Rejected { status, reason }),
        _ => Err(AuthError::Upstream(format!(
            "the token endpoint answered HTTP {status}{}",
            reason_suffix(&reason)
        ))),
    }
}

/// The provider's own short explanation from an error body (`error`, `error_description`,
/// `message`, `detail` in JSON, or `oauth_problem` in a form body), made safe to show:
/// printable, at most 200 characters, and dropped if it quotes one of `secrets`.
pub(crate) fn provider_reason(body: &[u8], secrets: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for key in ["error", "error_description", "message", "detail"] {
            if let Some(text) = map.get(key).and_then(Value::as_str) {
                parts.push(text.to_string());
            }
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            if k == "oauth_problem" {
                parts.push(v.into_owned());
            }
        }
    }
    let joined = parts.join(": ");
    if secrets.iter().any(|s| s.len() >= 4 && joined.contains(s)) {
        return String::new();
    }
    let clean: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > 200 {
        format!("{}…", clean.chars().take(200).collect::<String>())
    } else {
        clean
    }
}

/// A PEM block's label and DER bytes. Lenient about layout, because a key often arrives
/// through a single-line form field or JSON: line breaks may be real, spaces, or the two
/// characters `\n`. Text without armour is taken as bare base64 DER.
pub(crate) fn pem_to_der(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), &'static str> {
    let text = text.trim();
    let (label, body) = match text.strip_prefix("-----BEGIN ") {
        Some(rest) => {
            let (label, rest) = rest
                .split_once("-----")
                .ok_or("has a malformed BEGIN line")?;
            let end = format!("-----END {label}-----");
            let (body, _) = rest
                .split_once(end.as_str())
                .ok_or("has no matching END line")?;
            (label.to_string(), body)
        }
        None => (String::new(), text),
    };
    let compact: Zeroizing<String> = Zeroizing::new(
        body.replace("\\n", "")
            .replace("\\r", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    );
    if compact.is_empty() {
        return Err("is empty");
    }
    let der = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "is not valid base64 between its BEGIN and END lines")?;
    Ok((label, Zeroizing::new(der)))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn pem_layouts_decode_alike() {
        let der = b"\x30\x03\x02\x01\x05";
        let body = STANDARD.encode(der);
        for text in [
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
            format!("-----BEGIN PRIVATE KEY----- {body} -----END PRIVATE KEY-----"),
            format!("-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"),
        ] {
            let (label, decoded) = pem_to_der(&text).unwrap();
            assert_eq!(label, "PRIVATE KEY");
            assert_eq!(decoded.as_slice(), der);
        }
        assert_eq!(pem_to_der(&body).unwrap().0, "");
        assert!(pem_to_der("-----BEGIN PRIVATE KEY----- x").is_err());
        assert!(pem_to_der("-----BEGIN A-----%%-----END A-----").is_err());
        assert!(pem_to_der("-----BEGIN A----------END A-----").is_err());
    }

    #[test]
    fn provider_reasons_are_short_printable_and_never_quote_a_secret() {
        let body = br#"{"error":"invalid_grant","error_description":"bad\nkey"}"#;
        assert_eq!(provider_reason(body, &[]), "invalid_grant: bad key");
        let echo = br#"{"detail":"password hunter22 is wrong"}"#;
        assert_eq!(provider_reason(echo, &["hunter22"]), "");
        assert_eq!(
            provider_reason(b"oauth_problem=signature_invalid&x=1", &[]),
            "signature_invalid"
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(500));
        assert_eq!(provider_reason(long.as_bytes(), &[]).chars().count(), 201);
    }
}
