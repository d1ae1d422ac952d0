//! The closed set of authentication schemes an integration can use, spelled as the
//! Composio wire spells them (`OAUTH2`, `API_KEY`, …). Parsed once at the edge; the core
//! never handles a scheme as a free string.

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

// `OAUTH1A` is accepted as OAuth 1.0a, which is what OAUTH1 means here.
super::wire_names!(AuthScheme, error UnknownAuthScheme("auth scheme") {
    OAuth2 => "OAUTH2",
    OAuth1 => "OAUTH1" | "OAUTH1A",
    ApiKey => "API_KEY",
    Basic => "BASIC",
    BearerToken => "BEARER_TOKEN",
    BasicWithJwt => "BASIC_WITH_JWT",
    GoogleServiceAccount => "GOOGLE_SERVICE_ACCOUNT",
    NoAuth => "NO_AUTH",
});

impl AuthScheme {
    /// Schemes whose connection needs the user's browser (a redirect flow).
    pub fn needs_browser(self) -> bool {
        matches!(self, AuthScheme::OAuth2 | AuthScheme::OAuth1)
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
        assert_eq!(AuthScheme::OAuth1.as_str(), "OAUTH1");
        assert_eq!(
            "oauth3".parse::<AuthScheme>().map_err(|e| e.to_string()),
            Err(
                "unknown auth scheme \"oauth3\"; expected one of OAUTH2, OAUTH1, API_KEY, BASIC, \
                 BEARER_TOKEN, BASIC_WITH_JWT, GOOGLE_SERVICE_ACCOUNT, NO_AUTH"
                    .to_string()
            )
        );
    }
}
