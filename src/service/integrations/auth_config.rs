//! The spellings Composio's documentation uses in an integration's `authConfig`, rewritten
//! into keyport's before the configuration is validated, on create and on update alike:
//!
//! - `scopes` given as a list becomes the scheme's separator-joined string;
//! - `redirect_uri` / `oauth_redirect_uri` are dropped: keyport's OAuth callback is always
//!   its own (`callbackUrl` on the integration); a different value is logged, because the
//!   provider will refuse the flow until that callback is registered there;
//! - on an API_KEY scheme, `token` is the key (the docs connect Notion with
//!   `auth_config={"token": …}`), stored as the `api_key` connection default.
//!
//! What keyport would refuse is left as it is, for validation to name.

use serde_json::{Map, Value};

use crate::domain::AuthScheme;
use crate::providers::{App, SchemeDetails};

/// Rewrites `config` for `app` with `scheme`; `public_url` is where keyport's callback is.
pub(crate) fn normalize_auth_config(
    public_url: &str,
    app: &App,
    scheme: AuthScheme,
    config: &mut Map<String, Value>,
) {
    let spec = app.scheme(scheme);
    if let Some(Value::Array(list)) = config.get("scopes")
        && list.iter().all(Value::is_string)
    {
        let separator = match spec.map(|s| &s.details) {
            Some(SchemeDetails::OAuth2(o)) => o.scope_separator.as_str(),
            _ => " ",
        };
        let joined: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        let joined = joined.join(separator);
        config.insert("scopes".into(), Value::String(joined));
    }
    if scheme.needs_browser() {
        let callback = format!("{public_url}/callback/{}", app.key);
        for key in ["redirect_uri", "oauth_redirect_uri"] {
            if let Some(given) = config.remove(key)
                && given.as_str() != Some(callback.as_str())
            {
                tracing::warn!(
                    app = %app.key,
                    given = %given,
                    callback = %callback,
                    "authConfig.{key} ignored: keyport's OAuth callback is its own; register it with the provider"
                );
            }
        }
    }
    if scheme == AuthScheme::ApiKey
        && let Some(spec) = spec
    {
        let fields = spec.connection_fields(app);
        let has = |name: &str| fields.iter().any(|f| f.name == name);
        if has("api_key")
            && !has("token")
            && !config.contains_key("api_key")
            && let Some(token) = config.remove("token")
        {
            config.insert("api_key".into(), token);
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::providers::Catalog;

    fn normalized(app: &str, scheme: AuthScheme, config: Value) -> Value {
        let catalog = Catalog::builtin().unwrap();
        let app = catalog.get(app).unwrap();
        let mut config = config.as_object().cloned().unwrap();
        normalize_auth_config("http://127.0.0.1:7790", app, scheme, &mut config);
        Value::Object(config)
    }

    #[test]
    fn the_documents_spellings_become_keyports() {
        // scopes as a list, joined with the scheme's separator; redirect_uri dropped
        assert_eq!(
            normalized(
                "github",
                AuthScheme::OAuth2,
                json!({"client_id": "c", "scopes": ["repo", "user"], "redirect_uri": "https://x.example/cb"})
            ),
            json!({"client_id": "c", "scopes": "repo user"})
        );
        assert_eq!(
            normalized("shopify", AuthScheme::OAuth2, json!({"scopes": ["a", "b"]})),
            json!({"scopes": "a,b"})
        );
        // an API key given as `token`
        assert_eq!(
            normalized("notion", AuthScheme::ApiKey, json!({"token": "secret_x"})),
            json!({"api_key": "secret_x"})
        );
    }

    #[test]
    fn what_keyport_would_refuse_is_left_for_it_to_name() {
        // `token` on a bearer scheme is the scheme's own field; both given: untouched
        for (app, scheme, config) in [
            ("github", AuthScheme::BearerToken, json!({"token": "t"})),
            (
                "notion",
                AuthScheme::ApiKey,
                json!({"token": "t", "api_key": "k"}),
            ),
            (
                "github",
                AuthScheme::BearerToken,
                json!({"redirect_uri": "https://x.example"}),
            ),
            ("github", AuthScheme::OAuth2, json!({"scopes": ["repo", 7]})),
        ] {
            assert_eq!(normalized(app, scheme, config.clone()), config);
        }
    }
}
