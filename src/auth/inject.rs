//! What one outgoing request carries for a connection: headers and query parameters to
//! set, or an OAuth 1.0a signer that computes the `Authorization` header last, over the
//! final method, URL and form body. Every value is a `SecretString` and every header is
//! marked sensitive; `Debug` names the headers and parameters, never their values.

use secrecy::{ExposeSecret, SecretString};

use super::AuthError;
use super::oauth1::Signer;
use crate::providers::catalog::KeyLocation;

/// What to add to one outgoing request.
#[derive(Default)]
pub struct Injection {
    pub headers: Vec<(String, SecretString)>,
    pub query: Vec<(String, SecretString)>,
    /// OAuth 1.0a: an `Authorization: OAuth …` header computed per request over the final
    /// method, URL and form body.
    pub oauth1: Option<Signer>,
}

impl std::fmt::Debug for Injection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injection")
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "query",
                &self.query.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("oauth1", &self.oauth1)
            .finish()
    }
}

impl Injection {
    pub fn bearer(token: &str) -> Injection {
        Injection {
            headers: vec![(
                "Authorization".into(),
                SecretString::from(format!("Bearer {token}")),
            )],
            ..Injection::default()
        }
    }

    pub(crate) fn add(&mut self, location: KeyLocation, name: &str, value: String) {
        let entry = (name.to_string(), SecretString::from(value));
        match location {
            KeyLocation::Header => self.headers.push(entry),
            KeyLocation::Query => self.query.push(entry),
        }
    }

    /// Names of the headers this injection sets (lower-case), so callers can drop any the
    /// client tried to set itself.
    pub fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        if self.oauth1.is_some() && !names.iter().any(|n| n == "authorization") {
            names.push("authorization".into());
        }
        names
    }

    /// Adds the injection to a request: headers replace same-named ones, query parameters
    /// replace same-named ones. `method` and `form_body` (an
    /// `application/x-www-form-urlencoded` body, if that is what is sent) are what a
    /// per-request signature covers: with an OAuth 1.0a signer, the `Authorization` header
    /// is computed last, over the final URL (query injection included) and that body.
    pub fn apply(
        &self,
        method: &http::Method,
        url: &mut url::Url,
        headers: &mut http::HeaderMap,
        form_body: Option<&[u8]>,
    ) -> Result<(), AuthError> {
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| AuthError::Invalid(format!("bad header name {name:?}")))?;
            let mut value = http::HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                AuthError::Invalid("the credential holds characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if !self.query.is_empty() {
            let names: Vec<&str> = self.query.iter().map(|(n, _)| n.as_str()).collect();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !names.contains(&k.as_ref()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in &kept {
                pairs.append_pair(k, v);
            }
            for (name, value) in &self.query {
                pairs.append_pair(name, value.expose_secret());
            }
        }
        if let Some(signer) = &self.oauth1 {
            let header = signer.authorization(method, url, form_body)?;
            let mut value = http::HeaderValue::from_str(header.expose_secret()).map_err(|_| {
                AuthError::Invalid(
                    "the OAuth 1.0a header holds characters a header cannot carry".into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::auth::oauth1::Consumer;

    #[test]
    fn oauth1_injections_claim_the_authorization_header() {
        let consumer = Consumer::new(
            "ck",
            Some("cs"),
            crate::providers::SignatureMethod::HmacSha1,
            None,
        )
        .unwrap();
        let injection = Injection {
            oauth1: Some(Signer::new(
                consumer,
                Some(("t", "ts")),
                crate::clock::Clock::system(),
            )),
            ..Injection::default()
        };
        assert_eq!(injection.header_names(), ["authorization"]);
        let mut url = url::Url::parse("https://api.example/x?a=1").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer client".parse().unwrap(),
        );
        injection
            .apply(&http::Method::GET, &mut url, &mut headers, None)
            .unwrap();
        let value = headers.get(http::header::AUTHORIZATION).unwrap();
        assert!(value.is_sensitive());
        assert!(
            value
                .to_str()
                .unwrap()
                .starts_with("OAuth oauth_consumer_key=\"ck\"")
        );
        let shown = format!("{injection:?}");
        assert!(!shown.contains("cs") && !shown.contains("ts\""), "{shown}");
    }
}
