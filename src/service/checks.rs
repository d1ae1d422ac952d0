//! Credential checks for static credentials (API_KEY, BEARER_TOKEN, BASIC): one call to the
//! app's lightweight "who am I" endpoint with the connection's credential injected. Success
//! makes the connection ACTIVE; a 401/403 makes it FAILED when checked at creation, or
//! INACTIVE when checked later, with the provider's own message as the reason. After a
//! browser flow, the same request path serves the scheme's lookups (a GET whose answer
//! fills connection variables, Atlassian's cloud id) before the who-am-I call.

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::Value;

use super::access::Access;
use super::ctx::{Ctx, Loaded};
use super::tokens::Tokens;
use crate::domain::{AuthScheme, Connection, ConnectionStatus};
use crate::ids::ConnectionId;
use crate::providers::catalog::HttpMethod;
use crate::service::error::{Error, Result};
use crate::store::connections;

/// What the provider said about a credential.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub ok: bool,
    /// The provider's HTTP status.
    pub status: u16,
    pub message: String,
    /// Which account the credential is, when the provider said (login, email, name or id).
    pub account: Option<String>,
}

/// The connection parameter that records which account a connection is.
pub(crate) const ACCOUNT: &str = "account";

/// Which account a who-am-I answer names: the first of the usual identity fields, at the
/// top or under `data`, `user` or `profile`; short and printable.
fn account_of(body: &[u8]) -> Option<String> {
    let answer = serde_json::from_slice::<Value>(body).ok()?;
    const NAMES: [&str; 8] = [
        "login",
        "email",
        "username",
        "preferred_username",
        "user_name",
        "name",
        "sub",
        "id",
    ];
    let found = [None, Some("data"), Some("user"), Some("profile")]
        .iter()
        .filter_map(|within| match within {
            None => Some(&answer),
            Some(key) => answer.get(key).filter(|v| v.is_object()),
        })
        .find_map(|object| {
            NAMES.iter().find_map(|name| match object.get(name)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        })?;
    Some(
        found
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
    )
}

/// A short, printable message from a provider's error body (`message`, `error`…), never
/// longer than 200 characters.
fn provider_message(status: u16, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        ["message", "error_description", "error", "detail", "title"]
            .iter()
            .find_map(|k| match &v[*k] {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
    });
    let text = from_json.unwrap_or_else(|| format!("HTTP {status}"));
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The status reason of a connection its user disabled; a check never undoes that.
pub(crate) const DISABLED_BY_USER: &str = "disabled by the user";

/// Who-am-I checks over the shared context and the token lifecycle.
#[derive(Clone, Copy)]
pub(crate) struct Checks<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

impl<'a> Checks<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        Checks { ctx, tokens }
    }

    /// Calls the app's who-am-I endpoint with what a request for the connection carries:
    /// the credential itself, or for a token-issuing scheme a token valid now (renewed
    /// through the one token lifecycle when due; a dead grant turns the connection EXPIRED).
    fn whoami(&self, loaded: &Loaded) -> Result<CheckOutcome> {
        let (connection, integration) = (&loaded.connection, &loaded.integration);
        if integration.auth_scheme == AuthScheme::NoAuth {
            return Err(Error::invalid(
                "a NO_AUTH connection has no credential to check",
            ));
        }
        let app = self.ctx.app(&integration.app_key)?;
        let endpoint = app.whoami.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "the catalog has no who-am-I endpoint for {}",
                app.key
            ))
        })?;
        // An absolute who-am-I URL may use the app's variables too (Salesforce's host).
        let url = self
            .ctx
            .render_for(&endpoint.url(&integration.base_url), connection)?;
        let method = match endpoint.method {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Post => http::Method::POST,
        };
        let response = self.send(loaded, method, &url, endpoint.body.as_ref())?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(CheckOutcome {
                ok: true,
                status,
                message: "the provider accepted the credential".into(),
                account: account_of(response.body()),
            }),
            401 | 403 => Ok(CheckOutcome {
                ok: false,
                status,
                account: None,
                message: provider_message(status, response.body()),
            }),
            other => Err(Error::Upstream(format!(
                "the who-am-I endpoint answered HTTP {other}; nothing was changed"
            ))),
        }
    }

    /// One request for the connection: the app's headers (rendered), the credential (a
    /// token renewed first when due), and a JSON body if any.
    fn send(
        &self,
        loaded: &Loaded,
        method: http::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<http::Response<Vec<u8>>> {
        let credentials = self.ctx.open(loaded)?;
        let (injection, _) =
            Access::new(self.ctx, self.tokens).inject(&loaded.connection, &credentials)?;
        let mut url = url::Url::parse(url).map_err(|_| Error::invalid("the URL is not valid"))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in self
            .ctx
            .app_headers(&loaded.integration, &loaded.connection)?
        {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
        let body = match body {
            Some(b) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                serde_json::to_vec(b)?
            }
            None => Vec::new(),
        };
        injection.apply(&method, &mut url, &mut headers, None)?;
        let mut request = http::Request::builder().method(method).uri(url.as_str());
        if let Some(h) = request.headers_mut() {
            h.extend(headers);
        }
        let request = request
            .body(body)
            .map_err(|e| Error::Internal(format!("request: {e}")))?;
        Ok(self.ctx.net.send(request)?)
    }

    /// After a browser flow, before anything else: the scheme's lookups (Atlassian's
    /// accessible resources → `cloudid`), each a GET with the new credential whose answer
    /// fills connection variables. A lookup that fails is logged; the connection stays
    /// ACTIVE, and a request needing the variable says it has no value.
    pub fn look_up(&self, id: ConnectionId) {
        if let Err(e) = self.try_look_up(id) {
            tracing::warn!(connection = %id, error = %e, "a post-connect lookup failed");
        }
    }

    fn try_look_up(&self, id: ConnectionId) -> Result<()> {
        let loaded = self.ctx.load(id)?;
        let app = self.ctx.app(&loaded.integration.app_key)?;
        let Some(scheme) = app.scheme(loaded.integration.auth_scheme) else {
            return Ok(());
        };
        for lookup in &scheme.lookups {
            let loaded = self.ctx.load(id)?;
            let url = self
                .ctx
                .render_for(lookup.url.as_str(), &loaded.connection)?;
            let response = self.send(&loaded, http::Method::GET, &url, None)?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(Error::Upstream(format!(
                    "the lookup answered HTTP {status}"
                )));
            }
            let answer: Value = serde_json::from_slice(response.body())
                .map_err(|_| Error::Upstream("the lookup's answer is not JSON".into()))?;
            for (name, source) in &lookup.vars {
                let value = source
                    .extract(&answer)
                    .filter(|v| crate::providers::fields::check_variable_value(v).is_ok())
                    .ok_or_else(|| {
                        Error::Upstream(format!("the lookup's answer has no usable {name}"))
                    })?;
                self.ctx
                    .store
                    .write(|tx| connections::set_param(tx, id, name, &value))?;
            }
        }
        Ok(())
    }

    /// Records which account the connection is, when the check said.
    fn record(&self, id: ConnectionId, outcome: &CheckOutcome) -> Result<()> {
        if let (true, Some(account)) = (outcome.ok, &outcome.account) {
            self.ctx
                .store
                .write(|tx| connections::set_param(tx, id, ACCOUNT, account))?;
        }
        Ok(())
    }

    /// After a browser flow: which account was connected, when the app has a who-am-I
    /// endpoint. Best effort: the connection is ACTIVE whatever this finds.
    pub fn identify(&self, id: ConnectionId) {
        let found = self.ctx.load(id).and_then(|loaded| {
            if self.ctx.app(&loaded.integration.app_key)?.whoami.is_none() {
                return Ok(None);
            }
            let outcome = self.whoami(&loaded)?;
            self.record(id, &outcome)?;
            Ok(outcome.account)
        });
        match found {
            Ok(Some(_)) => tracing::info!(connection = %id, "account recorded"),
            Ok(None) => {}
            Err(e) => {
                tracing::info!(connection = %id, error = %e, "which account this is could not be learnt")
            }
        }
    }

    /// The check at creation: an INITIATED connection becomes ACTIVE or FAILED.
    pub fn at_creation(&self, id: ConnectionId) -> Result<CheckOutcome> {
        let outcome = match self.whoami(&self.ctx.load(id)?) {
            Ok(outcome) => outcome,
            Err(e) => {
                self.ctx.transition(
                    id,
                    ConnectionStatus::Failed,
                    Some(&format!("the credential could not be checked: {e}")),
                )?;
                return Err(e);
            }
        };
        if outcome.ok {
            self.record(id, &outcome)?;
            self.ctx.transition(id, ConnectionStatus::Active, None)?;
        } else {
            self.ctx.transition(
                id,
                ConnectionStatus::Failed,
                Some(&format!(
                    "the provider refused the credential: {}",
                    outcome.message
                )),
            )?;
        }
        Ok(outcome)
    }

    /// `keyport connections test ID`: checks an ACTIVE or INACTIVE connection's credential
    /// now; a refusal makes it INACTIVE (refused by the provider), an acceptance makes a
    /// connection the provider had refused ACTIVE again. A connection its user disabled
    /// stays disabled whatever the answer.
    pub fn on_demand(&self, connection: &Connection) -> Result<CheckOutcome> {
        let id = connection.id;
        if !matches!(
            connection.status,
            ConnectionStatus::Active | ConnectionStatus::Inactive
        ) {
            return Err(Error::Conflict(format!(
                "connected account {id} is {}; only ACTIVE or INACTIVE connections can be tested",
                connection.status
            )));
        }
        let outcome = self.whoami(&self.ctx.load(id)?)?;
        self.record(id, &outcome)?;
        let by_user = connection.status_reason.as_deref() == Some(DISABLED_BY_USER);
        match (outcome.ok, connection.status) {
            (true, ConnectionStatus::Inactive) if !by_user => {
                self.ctx.transition(id, ConnectionStatus::Active, None)?
            }
            (false, ConnectionStatus::Active) => self.ctx.transition(
                id,
                ConnectionStatus::Inactive,
                Some(&format!(
                    "the provider refused the credential: {}",
                    outcome.message
                )),
            )?,
            _ => {}
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_the_first_identity_field_the_answer_has() {
        for (body, account) in [
            (
                r#"{"login":"octocat","id":1,"email":"o@x"}"#,
                Some("octocat"),
            ),
            (r#"{"id":42,"email":"a@b.example"}"#, Some("a@b.example")),
            (r#"{"sub":"248289761001"}"#, Some("248289761001")),
            (r#"{"ok":true,"user":{"name":"Ann"}}"#, Some("Ann")),
            (r#"{"data":{"id":7}}"#, Some("7")),
            (r#"{"login":"","name":"\u0007bell"}"#, Some("bell")),
            (r#"{"ok":true}"#, None),
            ("not json", None),
        ] {
            assert_eq!(account_of(body.as_bytes()).as_deref(), account, "{body}");
        }
    }

    #[test]
    fn provider_messages_are_short_and_printable() {
        assert_eq!(
            provider_message(401, br#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(
            provider_message(401, br#"{"error":{"message":"Invalid API key"}}"#),
            "Invalid API key"
        );
        assert_eq!(provider_message(403, b"<html>nope</html>"), "HTTP 403");
        let long = format!(r#"{{"message":"{}\n"}}"#, "x".repeat(500));
        assert_eq!(provider_message(401, long.as_bytes()).len(), 200);
    }
}
