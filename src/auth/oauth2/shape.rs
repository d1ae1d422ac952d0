//! Provider quirks at the token endpoint, kept between the `oauth2` crate and the HTTP
//! client so the crate still builds and parses every token request: a request re-encoded
//! as JSON for providers that take no form (Notion), and an answer reshaped before the
//! crate reads it — tokens lifted from where the provider nests them (Slack's
//! `authed_user`), declared values copied out as connection variables (Salesforce's
//! `instance_url`), and a `200` that is really an OAuth error (`{"ok": false, "error": …}`,
//! Slack and GitHub) turned into the `400` RFC 6749 §5.2 prescribes. Nothing here logs or
//! keeps a token; a variable is kept only if it may fill a URL template.

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::client::OAuthConfig;
use crate::net::NetError;
use crate::providers::catalog::json_path;
use crate::providers::fields::check_variable_value;

type Request = http::Request<Vec<u8>>;
type Response = http::Response<Vec<u8>>;

/// `inner` with the configuration's quirks applied on the way out and back; the values of
/// the configured response variables land in `vars`.
pub(super) fn shaped<'a, F>(
    inner: F,
    config: &'a OAuthConfig,
    vars: &'a RefCell<Vec<(String, String)>>,
) -> impl Fn(Request) -> Result<Response, NetError> + 'a
where
    F: Fn(Request) -> Result<Response, NetError> + 'a,
{
    move |request| {
        let request = if config.json_body {
            as_json(request)
        } else {
            request
        };
        let response = inner(request)?;
        Ok(reshape(response, config, vars))
    }
}

/// The form body as a JSON object of the same (string) parameters.
fn as_json(request: Request) -> Request {
    let (mut parts, body) = request.into_parts();
    let object: Map<String, Value> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Request::from_parts(parts, Value::Object(object).to_string().into_bytes())
}

fn reshape(
    response: Response,
    config: &OAuthConfig,
    vars: &RefCell<Vec<(String, String)>>,
) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(response.body()) else {
        return response;
    };
    let whole = Value::Object(doc.clone());
    for (name, source) in &config.response_vars {
        match source.extract(&whole) {
            Some(value) if check_variable_value(&value).is_ok() => {
                vars.borrow_mut().push((name.clone(), value));
            }
            Some(_) => tracing::warn!(
                variable = %name,
                "the token response's value is not usable in a URL; not kept"
            ),
            None => {}
        }
    }
    let nested = config
        .tokens_at
        .as_deref()
        .and_then(|at| json_path(&whole, at))
        .and_then(Value::as_object)
        .filter(|o| o.contains_key("access_token"));
    let (mut parts, body) = response.into_parts();
    if let Some(nested) = nested {
        for (k, v) in nested {
            doc.insert(k.clone(), v.clone());
        }
    } else if !doc.contains_key("access_token") && doc.get("error").is_some_and(Value::is_string) {
        parts.status = http::StatusCode::BAD_REQUEST;
    } else {
        return Response::from_parts(parts, body);
    }
    Response::from_parts(parts, Value::Object(doc).to_string().into_bytes())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::oauth2::TokenAuth;
    use crate::providers::catalog::ValueSource;

    fn config() -> OAuthConfig {
        OAuthConfig {
            client_id: "c".into(),
            client_secret: None,
            authorization_url: None,
            token_url: "https://idp.example/token".into(),
            revocation_url: None,
            redirect_uri: None,
            scopes: Vec::new(),
            scope_separator: " ".into(),
            authorization_params: Vec::new(),
            token_params: Vec::new(),
            pkce: false,
            token_auth: TokenAuth::Basic,
            json_body: true,
            tokens_at: Some("authed_user".into()),
            response_vars: vec![
                ("team_id".into(), ValueSource::Path("team.id".into())),
                (
                    "instance_host".into(),
                    serde_json::from_value(json!({"path": "instance_url", "part": "host"}))
                        .unwrap(),
                ),
                ("bad".into(), ValueSource::Path("bad".into())),
            ],
        }
    }

    fn answer(status: u16, body: Value) -> Response {
        http::Response::builder()
            .status(status)
            .body(body.to_string().into_bytes())
            .unwrap()
    }

    #[test]
    fn requests_become_json_and_answers_give_up_nested_tokens_and_variables() {
        let vars = RefCell::new(Vec::new());
        let config = config();
        let sent = RefCell::new(None);
        let client = shaped(
            |request: Request| {
                *sent.borrow_mut() = Some(request);
                Ok(answer(
                    200,
                    json!({"ok": true, "access_token": "xoxb", "team": {"id": "T1"},
                           "instance_url": "https://acme.my.salesforce.com", "bad": "a/b",
                           "authed_user": {"access_token": "xoxp", "token_type": "user"}}),
                ))
            },
            &config,
            &vars,
        );
        let request = http::Request::builder()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"grant_type=authorization_code&code=a%20b".to_vec())
            .unwrap();
        let response = client(request).unwrap();
        drop(client);
        let sent = sent.into_inner().unwrap();
        assert_eq!(sent.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(sent.body()).unwrap();
        assert_eq!(
            body,
            json!({"grant_type": "authorization_code", "code": "a b"})
        );
        let doc: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(doc["access_token"], "xoxp");
        assert_eq!(
            vars.into_inner(),
            [
                ("team_id".to_string(), "T1".to_string()),
                (
                    "instance_host".to_string(),
                    "acme.my.salesforce.com".to_string()
                )
            ]
        );
    }

    #[test]
    fn an_error_sent_with_200_is_an_error() {
        let vars = RefCell::new(Vec::new());
        let config = config();
        let client = shaped(
            |_| Ok(answer(200, json!({"ok": false, "error": "invalid_code"}))),
            &config,
            &vars,
        );
        let response = client(http::Request::new(Vec::new())).unwrap();
        assert_eq!(response.status(), 400);
    }
}
