//! The three-legged flow's protocol steps (RFC 5849 §2): temporary credentials, the
//! authorization URL, and the exchange of the verifier for token credentials. Each step is
//! a signed POST whose form-encoded answer is read here; the service keeps the pending
//! flow and the resulting tokens (`service/flows.rs`).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::Consumer;
use super::sign::{Signing, nonce};
use crate::auth::AuthError;
use crate::auth::endpoint::token_endpoint;
use crate::net::Net;
use crate::providers::fields::render_template;

/// The three URLs of the flow and the extra authorization parameters, from an
/// integration's configuration with the connection's `{variable}`s filled in.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub request_token_url: Url,
    pub authorization_url: Url,
    pub access_token_url: Url,
    pub authorization_params: BTreeMap<String, String>,
}

impl Endpoints {
    pub fn from_config(
        config: &Map<String, Value>,
        vars: &Map<String, Value>,
    ) -> Result<Endpoints, AuthError> {
        let url = |name: &str| -> Result<Url, AuthError> {
            let template = config
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| AuthError::field(name, "is required"))?;
            let rendered =
                render_template(template, vars).map_err(|e| AuthError::field(e.field, e.reason))?;
            Url::parse(&rendered).map_err(|_| AuthError::field(name, "is not a valid URL"))
        };
        let mut authorization_params = BTreeMap::new();
        match config.get("authorization_params") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| {
                        AuthError::field(format!("authorization_params.{k}"), "expected a string")
                    })?;
                    authorization_params.insert(k.clone(), v.to_string());
                }
            }
            Some(_) => {
                return Err(AuthError::field(
                    "authorization_params",
                    "expected an object",
                ));
            }
        }
        Ok(Endpoints {
            request_token_url: url("request_token_url")?,
            authorization_url: url("authorization_url")?,
            access_token_url: url("access_token_url")?,
            authorization_params,
        })
    }
}

/// Temporary credentials (the request token, §2.1), kept in the pending flow.
pub struct TemporaryCredentials {
    pub token: String,
    pub token_secret: SecretString,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("token", &self.token)
            .field("token_secret", &"[redacted]")
            .finish()
    }
}

/// Token credentials (§2.3): what a connection keeps, plus whatever else the provider
/// returned (`user_id`, `screen_name`, …).
pub struct TokenCredentials {
    pub token: SecretString,
    pub token_secret: SecretString,
    pub extra: BTreeMap<String, String>,
}

impl std::fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCredentials")
            .field("token", &"[redacted]")
            .field("token_secret", &"[redacted]")
            .field("extra", &self.extra)
            .finish()
    }
}

/// §2.1: asks for temporary credentials, announcing `callback_url`.
pub fn request_token(
    net: &Net,
    endpoints: &Endpoints,
    consumer: &Consumer,
    callback_url: &str,
    now: i64,
) -> Result<TemporaryCredentials, AuthError> {
    let signing = Signing {
        consumer,
        token: None,
        token_secret: "",
        protocol: &[("oauth_callback", callback_url)],
        nonce: &nonce()?,
        timestamp: now,
    };
    let secrets = [consumer.secret.expose_secret()];
    let mut answer = post(net, &endpoints.request_token_url, &signing, &secrets)?;
    if answer.get("oauth_callback_confirmed").map(String::as_str) != Some("true") {
        return Err(AuthError::Upstream(
            "the request-token response lacks oauth_callback_confirmed=true (not OAuth 1.0a)"
                .into(),
        ));
    }
    let (token, token_secret) = token_pair(&mut answer, "request-token")?;
    Ok(TemporaryCredentials {
        token: token.expose_secret().to_string(),
        token_secret,
    })
}

/// §2.2: where to send the user's browser: the authorization URL with `oauth_token` and
/// the integration's extra parameters.
pub fn authorize_url(
    endpoints: &Endpoints,
    temporary: &TemporaryCredentials,
) -> Result<String, AuthError> {
    let mut url = endpoints.authorization_url.clone();
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("oauth_token", &temporary.token);
        for (k, v) in &endpoints.authorization_params {
            pairs.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

/// §2.3: exchanges the authorized temporary credentials and the callback's
/// `oauth_verifier` for token credentials.
pub fn access_token(
    net: &Net,
    endpoints: &Endpoints,
    consumer: &Consumer,
    temporary: &TemporaryCredentials,
    verifier: &str,
    now: i64,
) -> Result<TokenCredentials, AuthError> {
    if verifier.is_empty() {
        return Err(AuthError::Invalid(
            "the callback carries no oauth_verifier".into(),
        ));
    }
    let signing = Signing {
        consumer,
        token: Some(&temporary.token),
        token_secret: temporary.token_secret.expose_secret(),
        protocol: &[("oauth_verifier", verifier)],
        nonce: &nonce()?,
        timestamp: now,
    };
    let secrets = [
        consumer.secret.expose_secret(),
        temporary.token_secret.expose_secret(),
        verifier,
    ];
    let mut answer = post(net, &endpoints.access_token_url, &signing, &secrets)?;
    let (token, token_secret) = token_pair(&mut answer, "access-token")?;
    answer.remove("oauth_callback_confirmed");
    Ok(TokenCredentials {
        token,
        token_secret,
        extra: answer,
    })
}

/// A signed, empty-bodied POST to a flow endpoint; the form-encoded answer as a map.
fn post(
    net: &Net,
    url: &Url,
    signing: &Signing<'_>,
    secrets: &[&str],
) -> Result<BTreeMap<String, String>, AuthError> {
    let header = signing.header("POST", url, None)?;
    let mut value = http::HeaderValue::from_str(header.expose_secret()).map_err(|_| {
        AuthError::Invalid("the OAuth 1.0a header holds characters a header cannot carry".into())
    })?;
    value.set_sensitive(true);
    let request = http::Request::post(url.as_str())
        .header(http::header::AUTHORIZATION, value)
        .header(
            http::header::ACCEPT,
            "application/x-www-form-urlencoded, text/plain",
        )
        .body(Vec::new())
        .map_err(|_| AuthError::Invalid("could not build the token request".into()))?;
    let body = token_endpoint(net, request, secrets)?;
    Ok(url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// Takes `oauth_token` and `oauth_token_secret` out of a flow answer.
fn token_pair(
    answer: &mut BTreeMap<String, String>,
    step: &str,
) -> Result<(SecretString, SecretString), AuthError> {
    let token = answer
        .remove("oauth_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Upstream(format!("the {step} response lacks oauth_token")))?;
    let secret = answer.remove("oauth_token_secret").ok_or_else(|| {
        AuthError::Upstream(format!("the {step} response lacks oauth_token_secret"))
    })?;
    Ok((SecretString::from(token), SecretString::from(secret)))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn endpoints_render_variables_and_name_unknown_ones() {
        let config = serde_json::json!({
            "request_token_url": "https://{site}.example/rt",
            "authorization_url": "https://{site}.example/auth?x=1",
            "access_token_url": "https://{site}.example/at",
            "authorization_params": {"scope": "read,write", "name": "keyport"},
        });
        let config = config.as_object().unwrap();
        let vars = serde_json::json!({"site": "acme"});
        let endpoints = Endpoints::from_config(config, vars.as_object().unwrap()).unwrap();
        let temporary = TemporaryCredentials {
            token: "rt 1".into(),
            token_secret: SecretString::from("x".to_string()),
        };
        assert_eq!(
            authorize_url(&endpoints, &temporary).unwrap(),
            "https://acme.example/auth?x=1&oauth_token=rt+1&name=keyport&scope=read%2Cwrite"
        );
        match Endpoints::from_config(config, &Map::new()) {
            Err(AuthError::Field { field, .. }) => assert_eq!(field, "site"),
            other => panic!("{other:?}"),
        }
    }
}
