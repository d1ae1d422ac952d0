//! Acting for an entity: the credential-injecting proxy (`POST /api/v2/actions/proxy`) and,
//! built on it, named actions ([`execute`]). The caller names a connection (or an entity
//! and an app) and a path; keyport adds the credential and sends the request with the
//! worker's async [`Upstream`](crate::net::Upstream) client ([`call`] says how the work is
//! split so that no thread waits on a provider). The caller never sees the credential.
//!
//! What goes out is decided here and nowhere else:
//! - the URL is `resolve_endpoint(base URL, endpoint)`: same scheme, host and port as the
//!   integration's base URL and a path under it, checked again after the credential is
//!   applied; redirects are never followed, and an off-host `Location` is removed from
//!   the answer. An endpoint may be a full URL only on that host or on one of the app's
//!   `extra_hosts` (the catalog's closed list), whose base URL is then the integration's
//!   with that host, held to the same rules;
//! - headers are the app's defaults, then the caller's, then the injection. Credential
//!   headers (`Authorization`, `Cookie`, `Proxy-Authorization`), any header the injection
//!   sets, and hop-by-hop headers are never taken from the caller;
//! - the answer comes back with its status, filtered headers (no `Set-Cookie`) and body,
//!   with every injected secret value masked in case the provider echoes it.
//!
//! On a 401 the credential gets one chance to be renewed (`Access::after_401`) and the
//! request is retried once.

mod call;
mod endpoint;
mod execute;
mod mask;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

pub(crate) use call::{Attempt, Call, blocking, complete, prepare};
pub use endpoint::{check_within, resolve_endpoint};
pub use execute::{ActionOutcome, ExecuteAction};

use super::access::{Access, Prepared};
use super::caller::Caller;
use super::connections::{Connections, ListConnections};
use super::ctx::Ctx;
use super::tokens::Tokens;
use crate::auth::Injection;
use crate::ids::{ConnectionId, EntityId};
use crate::net::NetError;
use crate::service::error::{Error, Result};
use crate::store::ConnectionFilter;
use mask::mask;

/// Never taken from the caller: credentials keyport owns, and hop-by-hop or framing
/// headers that describe the caller's connection to keyport, not keyport's to the provider.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    "accept-encoding",
];

/// Never passed back to the caller.
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
];

/// Which connection acts.
#[derive(Debug, Clone)]
pub enum Target {
    Connection(ConnectionId),
    /// The entity's default ACTIVE connection to the app, else its oldest (entity
    /// `default` when `None`).
    Entity {
        entity: Option<String>,
        app: String,
    },
}

/// Where a caller's parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    Header,
    Query,
}

impl std::str::FromStr for ParamIn {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "header" => Ok(ParamIn::Header),
            "query" => Ok(ParamIn::Query),
            other => Err(Error::invalid(format!(
                "parameters.in: {other:?} is neither header nor query"
            ))),
        }
    }
}

/// One proxied request, as the caller describes it.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub target: Target,
    pub method: http::Method,
    /// A path (and query) relative to the integration's base URL.
    pub endpoint: String,
    /// A JSON body; a JSON string is sent as text.
    pub body: Option<Value>,
    pub parameters: Vec<(ParamIn, String, String)>,
}

/// What is sent, before the credential: shared by the proxy and named actions.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub method: http::Method,
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// Content type and bytes.
    pub body: Option<(String, Vec<u8>)>,
}

/// The provider's answer.
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: u16,
    /// Lower-case names, filtered; repeated headers joined with ", ".
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ProxyResponse {
    /// The body as JSON when it is JSON, else as text; `null` when empty.
    pub fn data(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }

    pub fn successful(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `None` for a 2xx answer, else what went wrong in one line; `data` is `self.data()`.
    pub fn error_for(&self, data: &Value) -> Option<String> {
        (!self.successful()).then(|| crate::actions::upstream_error(self.status, data))
    }
}

fn body_of(body: Option<&Value>) -> Option<(String, Vec<u8>)> {
    match body? {
        Value::Null => None,
        Value::String(text) => Some((
            "text/plain; charset=utf-8".into(),
            text.clone().into_bytes(),
        )),
        other => Some(("application/json".into(), other.to_string().into_bytes())),
    }
}

impl Outbound {
    fn from_proxy(req: &ProxyRequest) -> Result<Outbound> {
        let allowed = [
            http::Method::GET,
            http::Method::POST,
            http::Method::PUT,
            http::Method::PATCH,
            http::Method::DELETE,
            http::Method::HEAD,
        ];
        if !allowed.contains(&req.method) {
            return Err(Error::invalid(
                "method: must be GET, POST, PUT, PATCH, DELETE or HEAD",
            ));
        }
        let carries_body = matches!(
            req.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        );
        // SDKs send `{}` for "no body" with every method.
        let body = match &req.body {
            Some(Value::Object(m)) if m.is_empty() && !carries_body => None,
            Some(Value::String(s)) if s.is_empty() && !carries_body => None,
            other => body_of(other.as_ref()),
        };
        if body.is_some() && !carries_body {
            return Err(Error::invalid(format!(
                "body: a {} request carries no body",
                req.method
            )));
        }
        let mut headers = Vec::new();
        let mut query = Vec::new();
        for (location, name, value) in req.parameters.iter().cloned() {
            if name.trim().is_empty() {
                return Err(Error::invalid("parameters.name: must not be empty"));
            }
            match location {
                ParamIn::Header => headers.push((name, value)),
                ParamIn::Query => query.push((name, value)),
            }
        }
        Ok(Outbound {
            method: req.method.clone(),
            endpoint: req.endpoint.clone(),
            headers,
            query,
            body,
        })
    }
}

fn net_error(e: NetError, url: &Url) -> Error {
    let origin = url.origin().ascii_serialization();
    let kind = match &e {
        NetError::Timeout => "timeout",
        NetError::Connect(_) => "connect",
        NetError::TooLarge(_) => "too_large",
        NetError::Other(_) => "other",
    };
    // The detail may quote the URL, and with it a query-string credential: never logged.
    tracing::warn!(upstream = %origin, kind, "upstream request failed");
    match e {
        NetError::Timeout => Error::UpstreamTimeout,
        NetError::TooLarge(limit) => Error::Upstream(format!(
            "the answer from {origin} is larger than {limit} bytes"
        )),
        NetError::Connect(_) => Error::Upstream(format!("could not reach {origin}")),
        NetError::Other(_) => Error::Upstream(format!("the request to {origin} failed")),
    }
}

fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::invalid(format!("parameters: {name:?} is not a valid header name")))
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::invalid(format!(
            "parameters: the value of header {name} holds characters a header cannot carry"
        ))
    })
}

/// The caller's headers over the app's defaults, leaving out the ones keyport owns
/// (`injected`, credentials, hop-by-hop and framing headers).
fn add_caller_headers(
    headers: &mut HeaderMap,
    outbound: &Outbound,
    injected: &[String],
) -> Result<()> {
    // Headers the caller's own Connection header declares hop-by-hop go too (RFC 9110 §7.6.1).
    let declared_hop: Vec<String> = outbound
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let mut replaced: Vec<HeaderName> = Vec::new();
    for (name, value) in &outbound.headers {
        let lower = name.trim().to_ascii_lowercase();
        if DROPPED_REQUEST_HEADERS.contains(&lower.as_str())
            || injected.contains(&lower)
            || declared_hop.contains(&lower)
        {
            continue;
        }
        let name = header_name(name.trim())?;
        let value = header_value(name.as_str(), value)?;
        // The caller's value replaces an app default; repeated caller headers accumulate.
        if replaced.contains(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            replaced.push(name);
        }
    }
    Ok(())
}

/// The request as sent: app headers, the caller's headers and query, the body, then the
/// injection; checked once more against the base URL.
fn build(
    base: &Url,
    url: &Url,
    prepared: &Prepared,
    injection: &Injection,
    outbound: &Outbound,
) -> Result<http::Request<Vec<u8>>> {
    let mut url = url.clone();
    let injected_query: Vec<&str> = injection.query.iter().map(|(n, _)| n.as_str()).collect();
    let mut headers = HeaderMap::new();
    for (name, value) in &prepared.app_headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Internal(format!("catalog header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::Internal(format!("catalog header value for {name}")))?;
        headers.insert(name, value);
    }
    add_caller_headers(&mut headers, outbound, &injection.header_names())?;
    if !outbound.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &outbound.query {
            if !injected_query.contains(&name.as_str()) {
                pairs.append_pair(name, value);
            }
        }
    }
    let body = match &outbound.body {
        Some((content_type, bytes)) => {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    header_value("content-type", content_type)?,
                );
            }
            bytes.clone()
        }
        None => Vec::new(),
    };
    let form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    injection.apply(
        &outbound.method,
        &mut url,
        &mut headers,
        form.then_some(body.as_slice()),
    )?;
    check_within(base, &url)?;
    let mut request = http::Request::builder()
        .method(outbound.method.clone())
        .uri(url.as_str())
        .body(body)
        .map_err(|_| Error::invalid("endpoint: not a URI the HTTP client accepts"))?;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The proxy and named actions over the shared context and the token lifecycle.
#[derive(Clone, Copy)]
pub(crate) struct Proxy<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

impl<'a> Proxy<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        Proxy { ctx, tokens }
    }

    fn access(&self) -> Access<'a> {
        Access::new(self.ctx, self.tokens)
    }

    /// The connection a target names: the given id; or, by entity and app, the ACTIVE
    /// connection the entity marked as its default for the app, else its oldest ACTIVE
    /// one (the one the Composio SDK's `get_connection` picks).
    fn resolve_target(&self, caller: &Caller, target: &Target) -> Result<ConnectionId> {
        let (entity, app) = match target {
            Target::Connection(id) => return Ok(*id),
            Target::Entity { entity, app } => (entity, app),
        };
        let app = self.ctx.find_app(app)?.key.clone();
        let entity = EntityId::or_default(entity.as_deref())?;
        caller.may_act_for(&entity)?;
        let found = Connections::new(self.ctx, self.tokens).find(
            caller,
            ListConnections {
                filter: ConnectionFilter {
                    entities: vec![entity.clone()],
                    apps: vec![app.clone()],
                    ..ConnectionFilter::default()
                },
                active_only: true,
                ..ListConnections::default()
            },
        )?;
        let marked =
            |c: &crate::domain::Connection| c.params.get("default") == Some(&Value::Bool(true));
        found
            .iter()
            .find(|c| marked(c))
            .or_else(|| found.iter().min_by(|a, b| a.created_at.cmp(&b.created_at)))
            .map(|connection| connection.id)
            .ok_or_else(|| {
                Error::not_found(
                    "ACTIVE connection (entity/app)",
                    format!("{}/{app}", entity.as_str()),
                )
            })
    }
}

/// The provider's answer as the caller gets it: status, filtered headers (an off-host
/// `Location` dropped) and body, with every value in `secrets` masked.
fn finish(
    base: &Url,
    sent_to: &Url,
    secrets: &[Vec<u8>],
    response: http::Response<Vec<u8>>,
) -> ProxyResponse {
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in response.headers().keys() {
        let lower = name.as_str().to_ascii_lowercase();
        if DROPPED_RESPONSE_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let values: Vec<String> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(&mask(v.as_bytes().to_vec(), secrets)).into_owned())
            .collect();
        let joined = values.join(", ");
        if lower == "location" && !endpoint::same_origin_location(base, sent_to, &joined) {
            // Never followed, and not handed on: the caller would follow it without us.
            tracing::info!(
                status,
                "dropped an off-host Location from an upstream answer"
            );
            continue;
        }
        headers.push((lower, joined));
    }
    let body = mask(response.into_body(), secrets);
    ProxyResponse {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_locations_parse_case_insensitively() {
        assert_eq!("Header".parse::<ParamIn>().ok(), Some(ParamIn::Header));
        assert_eq!("query".parse::<ParamIn>().ok(), Some(ParamIn::Query));
        assert!("body".parse::<ParamIn>().is_err());
    }

    #[test]
    fn bodies_only_on_methods_that_carry_them() {
        let req = |method: http::Method, body: Option<Value>| ProxyRequest {
            target: Target::Connection(ConnectionId::new()),
            method,
            endpoint: "/x".into(),
            body,
            parameters: Vec::new(),
        };
        assert!(
            Outbound::from_proxy(&req(http::Method::GET, Some(serde_json::json!({"a": 1}))))
                .is_err()
        );
        assert!(Outbound::from_proxy(&req(http::Method::GET, Some(serde_json::json!({})))).is_ok());
        assert!(Outbound::from_proxy(&req(http::Method::GET, Some(Value::Null))).is_ok());
        assert!(Outbound::from_proxy(&req(http::Method::CONNECT, None)).is_err());
        let post =
            Outbound::from_proxy(&req(http::Method::POST, Some(serde_json::json!({"a": 1}))));
        assert_eq!(
            post.ok().and_then(|o| o.body),
            Some(("application/json".to_string(), br#"{"a":1}"#.to_vec()))
        );
    }
}
