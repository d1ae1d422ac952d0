//! What the Composio Python SDK (composio-core 0.7.x) needs beyond the plain resources, kept
//! in one place so the resource handlers stay Composio-shaped but SDK-agnostic:
//!
//! - the connected account as the SDK parses it: `connectionParams` always an object with
//!   `headers` and `queryParams` objects (the SDK reads `headers["Authorization"]` of a
//!   GitHub connection), and only string values under the keys it types as strings;
//! - `GET /api/v1/connectedAccounts/{id}/info` (`get_auth_params`);
//! - `GET /api/v1/triggers`, which the SDK's catalog refresh lists (keyport has none);
//! - the legacy spellings the SDK's documentation passes in an integration's `authConfig`
//!   (`scopes` as a list, `redirect_uri`, an API key given as `token`), rewritten into
//!   keyport's before the service validates them.
//!
//! Every decision about who sees what stays in the service (`connection_auth_params`).

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::dto::{ConnectedAccountDto, items};
use super::{ApiResult, blocking};
use crate::domain::AuthScheme;
use crate::ids::ConnectionId;
use crate::providers::App;
use crate::providers::catalog::SchemeDetails;
use crate::service::{Caller, ConnectionView, Service};

/// Keys of the SDK's `AuthConnectionParamsModel` typed `Optional[str]`: any other JSON kind
/// under them fails its validation, so such values are left out of the wire shape.
const STRING_PARAMS: [&str; 9] = [
    "scope",
    "base_url",
    "client_id",
    "token_type",
    "access_token",
    "refresh_token",
    "client_secret",
    "consumer_id",
    "consumer_secret",
];

/// A connected account as the SDK reads it, with the request material the caller may see.
/// Runs service reads: call it on the blocking pool.
pub fn account(svc: &Service, caller: &Caller, view: &ConnectionView) -> ConnectedAccountDto {
    let mut dto = ConnectedAccountDto::from(view);
    let auth = svc.connection_auth_params(caller, view);
    let params = &mut dto.connection_params;
    params.retain(|key, value| {
        !STRING_PARAMS.contains(&key.as_str()) || value.is_string() || value.is_null()
    });
    if let Some(base_url) = auth.base_url {
        params.entry("base_url").or_insert(Value::String(base_url));
    }
    params.insert("headers".into(), Value::Object(auth.headers));
    params.insert("queryParams".into(), Value::Object(auth.query));
    dto
}

/// `GET /api/v1/connectedAccounts/{id}/info`: Composio's `ConnectionParams` — the base URL
/// and each injected header or query parameter, redacted unless the key is a `reveal` key.
pub async fn info(svc: web::Data<Service>, caller: Caller, path: web::Path<String>) -> ApiResult {
    let id: ConnectionId = path.parse()?;
    let auth = blocking(move || {
        let view = svc.get_connection(&caller, id)?;
        Ok(svc.connection_auth_params(&caller, &view))
    })
    .await?;
    let mut parameters = Vec::new();
    for (location, map) in [("header", &auth.headers), ("query", &auth.query)] {
        for (name, value) in map {
            parameters.push(json!({"in": location, "name": name, "value": value}));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "base_url": auth.base_url.unwrap_or_default(),
        "parameters": parameters,
        "body": {},
    })))
}

/// `GET /api/v1/triggers`: keyport has no triggers; the SDK's catalog refresh lists them.
pub async fn triggers(_caller: Caller) -> ApiResult {
    Ok(HttpResponse::Ok().json(items(Vec::<Value>::new())))
}

/// Rewrites the spellings Composio's documentation uses in an integration's `authConfig`
/// into keyport's, for `app` with `scheme`:
///
/// - `scopes` given as a list becomes the scheme's separator-joined string;
/// - `redirect_uri` / `oauth_redirect_uri` are dropped: keyport's OAuth callback is always
///   its own (`callbackUrl` on the integration); a different value is logged, because the
///   provider will refuse the flow until that callback is registered there;
/// - on an API_KEY scheme, `token` is the key (the docs connect Notion with
///   `auth_config={"token": …}`), stored as the `api_key` connection default.
pub fn normalize_auth_config(
    public_url: &str,
    app: &App,
    scheme: AuthScheme,
    config: &mut Map<String, Value>,
) {
    let spec = app.scheme(scheme);
    if let Some(Value::Array(list)) = config.get("scopes") {
        let separator = match spec.map(|s| &s.details) {
            Some(SchemeDetails::OAuth2(o)) => o.scope_separator.clone(),
            _ => " ".to_string(),
        };
        if list.iter().all(Value::is_string) {
            let joined: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            let joined = joined.join(&separator);
            config.insert("scopes".into(), Value::String(joined));
        }
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
