//! The closed set of authentication schemes an integration can use, spelled as the
//! Composio wire spells them (`OAUTH2`, `API_KEY`, …). Parsed once at the edge; the core
//! never handles a scheme as a free string.

use std::fmt;
use std::str::FromStr;

/// How an integration authenticates its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthScheme {
    OAuth2,
    OAuth1,
    ApiKey,
    Basic,
    BearerToken,
    BasicWithJwt,
    GoogleServiceAccount,
    NoAuth,
}

impl AuthScheme {
    pub const ALL: [AuthScheme; 8] = [
        AuthScheme::OAuth2,
        AuthScheme::OAuth1,
        AuthScheme::ApiKey,
        AuthScheme::Basic,
        AuthScheme::BearerToken,
        AuthScheme::BasicWithJwt,
        AuthScheme::GoogleServiceAccount,
        AuthScheme::NoAuth,
    ];

    /// The wire spelling (`"OAUTH2"`, `"API_KEY"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::OAuth2 => "OAUTH2",
            AuthScheme::OAuth1 => "OAUTH1",
            AuthScheme::ApiKey => "API_KEY",
            AuthScheme::Basic => "BASIC",
            AuthScheme::BearerToken => "BEARER_TOKEN",
            AuthScheme::BasicWithJwt => "BASIC_WITH_JWT",
            AuthScheme::GoogleServiceAccount => "GOOGLE_SERVICE_ACCOUNT",
            AuthScheme::NoAuth => "NO_AUTH",
        }
    }

    /// Schemes whose connection needs the user's browser (a redirect flow).
    pub fn needs_browser(self) -> bool {
        matches!(self, AuthScheme::OAuth2 | AuthScheme::OAuth1)
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a scheme name outside the closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown auth scheme {0:?}; expected one of OAUTH2, OAUTH1, API_KEY, BASIC, BEARER_TOKEN, BASIC_WITH_JWT, GOOGLE_SERVICE_ACCOUNT, NO_AUTH"
)]
pub struct UnknownAuthScheme(pub String);

impl FromStr for AuthScheme {
    type Err = UnknownAuthScheme;

    /// Case-insensitive; `OAUTH1A` is accepted as OAuth 1.0a, which is what OAUTH1 means here.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        if upper == "OAUTH1A" {
            return Ok(AuthScheme::OAuth1);
        }
        AuthScheme::ALL
            .into_iter()
            .find(|scheme| scheme.as_str() == upper)
            .ok_or_else(|| UnknownAuthScheme(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_scheme() {
        for scheme in AuthScheme::ALL {
            assert_eq!(scheme.as_str().parse::<AuthScheme>(), Ok(scheme));
            assert_eq!(
                scheme.as_str().to_lowercase().parse::<AuthScheme>(),
                Ok(scheme)
            );
        }
    }

    #[test]
    fn rejects_unknown_names() {
        for bad in ["", "OAUTH3", "oauth 2", "COMPOSIO_LINK", "SERVICE_ACCOUNT"] {
            assert!(bad.parse::<AuthScheme>().is_err(), "{bad} parsed");
        }
        assert_eq!("oauth1a".parse::<AuthScheme>(), Ok(AuthScheme::OAuth1));
    }
}
