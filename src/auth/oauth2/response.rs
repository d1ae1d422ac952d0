//! The token response keyport accepts: RFC 6749 §5.1, plus what real providers send —
//! `expires_in` as a string ("3600"), `scope` space- or comma-separated, unknown fields,
//! and `refresh_token_expires_in` (GitHub and others: how long the refresh token lives).

use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Deserialize, Serialize)]
pub struct KeyportTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "number_or_string")]
    refresh_token_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "scope_list", rename = "scope")]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Number(n)) if n.is_finite() && n >= 0.0 => Some(n as u64),
        Some(Raw::Number(_)) => None,
        Some(Raw::Text(s)) => s.trim().parse::<u64>().ok(),
    })
}

fn scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| {
        s.split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(|p| Scope::new(p.to_string()))
            .collect()
    }))
}

impl KeyportTokenResponse {
    pub fn token_type_name(&self) -> String {
        match &self.token_type {
            BasicTokenType::Bearer => "Bearer".into(),
            BasicTokenType::Mac => "MAC".into(),
            BasicTokenType::Extension(other) => other.clone(),
        }
    }

    /// How long the refresh token lives, where the provider says (not part of RFC 6749).
    pub fn refresh_token_expires_in(&self) -> Option<Duration> {
        self.refresh_token_expires_in.map(Duration::from_secs)
    }
}

impl TokenResponse for KeyportTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// oauth2's "other" errors may quote the response; keep only a short, token-free summary.
pub fn sanitize(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    if first.contains("Content-Type") || first.contains("content type") {
        "the token endpoint did not answer with JSON".to_string()
    } else if let Some(status) = first
        .split_whitespace()
        .find_map(|w| w.parse::<u16>().ok().filter(|s| (100..600).contains(s)))
    {
        format!("HTTP {status} from the token endpoint")
    } else {
        "unexpected answer from the token endpoint".to_string()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_providers_really_send() {
        let r: KeyportTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","expires_in":"3600","scope":"repo,user","extra":1}"#,
        )
        .unwrap();
        assert_eq!(r.expires_in(), Some(Duration::from_secs(3600)));
        assert_eq!(r.scopes().unwrap().len(), 2);
        assert!(r.refresh_token().is_none());
        let r: KeyportTokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":60}"#).unwrap();
        assert_eq!(r.expires_in(), Some(Duration::from_secs(60)));
        assert_eq!(r.token_type_name(), "Bearer");
        assert_eq!(r.refresh_token_expires_in(), None);
        let r: KeyportTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r","refresh_token_expires_in":"15897600"}"#,
        )
        .unwrap();
        assert_eq!(
            r.refresh_token_expires_in(),
            Some(Duration::from_secs(15_897_600))
        );
        assert!(
            serde_json::from_str::<KeyportTokenResponse>(r#"{"token_type":"bearer"}"#).is_err()
        );
    }

    #[test]
    fn debug_hides_tokens() {
        let r: KeyportTokenResponse =
            serde_json::from_str(r#"{"access_token":"SECRET_AT","refresh_token":"SECRET_RT"}"#)
                .unwrap();
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("SECRET_AT") && !shown.contains("SECRET_RT"),
            "{shown}"
        );
    }
}
