//! The front door, run before every handler: the raw `Host` header must name this server
//! (DNS-rebinding defence; `X-Forwarded-Host` and `Forwarded` are ignored), a foreign
//! `Origin` is refused, every `/api/` route and the MCP endpoint (`/mcp`, where a foreign
//! `Origin` is refused on every method) need an API key, and each request is logged
//! by method, path and status only — never query strings, headers or bodies.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::{Ready, ready};

use super::error::{ApiError, Envelope};
use crate::service::Error;
use crate::service::{Caller, Service};

/// Which Host and Origin values name this server.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl HostPolicy {
    /// For a server listening on `port`, reachable through `extra` as well (an explicitly
    /// allowed non-loopback listen address).
    pub fn for_port(port: u16, extra: Option<String>) -> Self {
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        hosts.extend(extra);
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        HostPolicy { hosts, origins }
    }

    /// Also reachable as `url` (the configured public URL): its authority as a Host, its
    /// origin as an Origin.
    pub fn with_public(mut self, url: &url::Url) -> Self {
        self.hosts.push(crate::config::public_url::authority(url));
        self.origins.push(url.origin().ascii_serialization());
        self
    }

    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| {
            self.hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(h))
        })
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

fn presented_key(req: &ServiceRequest) -> Option<String> {
    if let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.to_string());
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn check(req: &ServiceRequest) -> Result<Option<Caller>, Error> {
    let policy = req
        .app_data::<web::Data<HostPolicy>>()
        .ok_or_else(|| Error::Internal("host policy missing".into()))?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !policy.host_allowed(host) {
        return Err(Error::Forbidden("this Host is not keyport's; requests must name 127.0.0.1, localhost or [::1] with keyport's port, or its public URL's host".into()));
    }
    let is_api = req.path().starts_with("/api/") || req.path() == "/mcp";
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD);
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && (is_api || changes_state)
        && !origin.to_str().is_ok_and(|o| policy.origin_allowed(o))
    {
        return Err(Error::Forbidden(
            "cross-origin requests are not allowed".into(),
        ));
    }
    if !is_api {
        return Ok(None);
    }
    let service = req
        .app_data::<web::Data<Service>>()
        .ok_or_else(|| Error::Internal("service missing".into()))?;
    let key = presented_key(req).ok_or(Error::Unauthorized)?;
    service.authenticate(&key).map(Some)
}

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = crate::clock::Stopwatch::start();
    let response = match check(&req) {
        Err(e) => {
            let response = ApiError::Service(e).respond(Envelope::of(req.path()));
            req.into_response(response).map_into_right_body()
        }
        Ok(caller) => {
            if let Some(caller) = caller {
                req.extensions_mut().insert(caller);
            }
            next.call(req).await?.map_into_left_body()
        }
    };
    // The response carries the request: method and path are read in place, nothing copied.
    let request = response.request();
    crate::logging::request(
        request.method().as_str(),
        request.path(),
        response.status().as_u16(),
        started.elapsed().as_millis() as u64,
    );
    Ok(response)
}

/// Handlers take the authenticated caller as an argument.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Service(Error::Unauthorized)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_hosts_and_origins_pass() {
        let policy = HostPolicy::for_port(7790, None);
        for ok in [
            "127.0.0.1:7790",
            "localhost:7790",
            "LOCALHOST:7790",
            "[::1]:7790",
        ] {
            assert!(policy.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            None,
            Some(""),
            Some(":7790"),
            Some("127.0.0.1"),
            Some("127.0.0.1:7791"),
            Some("evil.example:7790"),
            Some("localhost.evil:7790"),
            Some("127.0.0.1.nip.io:7790"),
        ] {
            assert!(!policy.host_allowed(bad), "{bad:?}");
        }
        assert!(policy.origin_allowed("http://127.0.0.1:7790"));
        assert!(!policy.origin_allowed("http://localhost.evil.example"));
        assert!(!policy.origin_allowed("null"));
    }
}
