//! One upstream call, split so that no thread waits on a provider:
//! 1. [`Proxy::start`] / [`Proxy::plan`], synchronous: the request
//!    exactly as it goes out (the endpoint resolved under the base URL, headers filtered,
//!    the credential applied, the URL checked again) and the values to mask in the answer.
//!    Getting the credential may read SQLite or ask a token endpoint (with the blocking
//!    [`Net`](crate::net::Net)), which is why this step is not on a worker.
//! 2. [`Call::send`], async, on the worker's event loop through its [`Upstream`]: the
//!    wait for the provider, which holds no thread.
//! 3. `finish`, synchronous and quick: masking and header filtering, on the worker (on the
//!    blocking pool for a large answer, so a big body does not stall other requests).
//!
//! On a 401, [`Proxy::retry_after_401`] renews the credential on the blocking pool (one
//! renewal, shared with concurrent callers) and the request is sent once more.

use std::sync::Arc;

use url::Url;
use zeroize::Zeroizing;

use super::endpoint::resolve_on_hosts;
use super::{Outbound, Proxy, ProxyRequest, ProxyResponse, build, finish, net_error};
use super::{mask::mask, mask::masked_values};
use crate::audit::record::Entry;
use crate::auth::Injection;
use crate::net::Upstream;
use crate::service::access::Prepared;
use crate::service::approvals::PendingRequest;
use crate::service::caller::{Act, Caller};
use crate::service::error::{Error, Result};
use crate::service::{Service, audit};

/// How much of a request body the user is shown when it waits for approval.
const BODY_SUMMARY: usize = 200;

/// Answers up to this size are finished on the worker; larger ones on the blocking pool.
const FINISH_INLINE: usize = 64 * 1024;

/// Runs synchronous service work on the blocking pool.
pub(crate) async fn blocking<T, F>(svc: &Arc<Service>, work: F) -> Result<T>
where
    F: FnOnce(&Service) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let svc = Arc::clone(svc);
    tokio::task::spawn_blocking(move || work(&svc))
        .await
        .map_err(|_| Error::Internal("blocking pool unavailable".into()))?
}

/// Runs step 1 inline on this worker when it needs no I/O — the connection's rows are in
/// the row cache and its token is fresh (see `crate::inline`) — else on the blocking pool.
pub(crate) async fn prepare<T, F>(svc: &Arc<Service>, work: F) -> Result<T>
where
    F: Fn(&Service) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match crate::inline::attempt(|| work(svc)) {
        Err(e) if e.would_block() => blocking(svc, move |svc| work(svc)).await,
        done => done,
    }
}

/// Steps 2 and 3 for a started call; on a 401, one renewal and one retry.
pub(crate) async fn complete(
    svc: Arc<Service>,
    upstream: &Upstream,
    call: Call,
    attempt: Attempt,
) -> Result<ProxyResponse> {
    let first = call.send(upstream, attempt).await?;
    if first.status != 401 {
        return Ok(first);
    }
    let (call, retry) = blocking(&svc, move |svc| {
        let retry = svc.proxies().retry_after_401(&call)?;
        Ok((call, retry))
    })
    .await?;
    match retry {
        Some(attempt) => call.send(upstream, attempt).await,
        None => Ok(first),
    }
}

/// A call to one connection's provider: what each attempt is built from.
pub(crate) struct Call {
    prepared: Prepared,
    outbound: Outbound,
    base: Url,
    /// The endpoint under the base URL, before the credential is applied.
    url: Url,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("prepared", &self.prepared)
            .field("method", &self.outbound.method)
            .field("upstream", &self.url.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

/// One request ready to go out (credential applied) and the secret values to mask in its
/// answer.
pub(crate) struct Attempt {
    request: http::Request<Vec<u8>>,
    secrets: Zeroizing<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("method", self.request.method())
            .finish_non_exhaustive()
    }
}

impl Call {
    /// `entry` about this call: the connection, and the request line without its query.
    pub(crate) fn audited(&self, entry: Entry) -> Entry {
        let entry = audit::about(entry, &self.prepared.connection);
        audit::request(entry, self.outbound.method.as_str(), &self.url)
    }

    /// The connection this call acts through.
    pub(crate) fn connection_id(&self) -> crate::ids::ConnectionId {
        self.prepared.connection.id
    }

    /// Whether this call only reads (GET or HEAD): reads never wait for approval.
    pub(crate) fn is_read(&self) -> bool {
        matches!(self.outbound.method, http::Method::GET | http::Method::HEAD)
    }

    /// What the user is shown when this call waits for approval: the request line, and
    /// the body's first bytes with every secret of the connection masked.
    pub(crate) fn pending(&self, attempt: &Attempt) -> PendingRequest {
        let c = &self.prepared.connection;
        let body = self.outbound.body.as_ref().map(|(content_type, bytes)| {
            let head = &bytes[..bytes.len().min(BODY_SUMMARY)];
            let masked = mask(head.to_vec(), &attempt.secrets);
            let more = if bytes.len() > BODY_SUMMARY {
                format!("… ({} bytes)", bytes.len())
            } else {
                String::new()
            };
            format!("{content_type}: {}{more}", String::from_utf8_lossy(&masked))
        });
        PendingRequest {
            id: String::new(),
            key_id: String::new(),
            key_name: String::new(),
            entity: c.entity_id.as_str().to_owned(),
            connection: c.id.to_string(),
            app: c.app_key.clone(),
            action: None,
            method: self.outbound.method.to_string(),
            host: self.url.host_str().unwrap_or_default().to_owned(),
            path: self.url.path().to_owned(),
            body,
            asked_at: String::new(),
            expires_at: String::new(),
        }
    }

    fn attempt(&self, injection: &Injection) -> Result<Attempt> {
        let request = build(
            &self.base,
            &self.url,
            &self.prepared,
            injection,
            &self.outbound,
        )?;
        Ok(Attempt {
            request,
            secrets: Zeroizing::new(masked_values(injection)),
        })
    }

    /// Sends one attempt and finishes its answer.
    async fn send(&self, upstream: &Upstream, attempt: Attempt) -> Result<ProxyResponse> {
        let Attempt { request, secrets } = attempt;
        let response = upstream
            .send(request)
            .await
            .map_err(|e| net_error(e, &self.url))?;
        if response.body().len() <= FINISH_INLINE {
            return Ok(finish(&self.base, &self.url, &secrets, response));
        }
        let (base, url) = (self.base.clone(), self.url.clone());
        tokio::task::spawn_blocking(move || finish(&base, &url, &secrets, response))
            .await
            .map_err(|_| Error::Internal("blocking pool unavailable".into()))
    }
}

impl Proxy<'_> {
    /// Step 1 for `POST /api/v2/actions/proxy`: the call and its first attempt.
    pub fn start(&self, caller: &Caller, req: &ProxyRequest) -> Result<(Call, Attempt)> {
        let outbound = Outbound::from_proxy(req)?;
        let id = self.resolve_target(caller, &req.target)?;
        let prepared = self
            .access()
            .prepare(caller, id, Act::Request(&outbound.method))?;
        self.start_call(prepared, outbound)
    }

    /// Step 1 for a connection already prepared: the call and its first attempt.
    pub(super) fn start_call(
        &self,
        prepared: Prepared,
        outbound: Outbound,
    ) -> Result<(Call, Attempt)> {
        let (base, url) = resolve_on_hosts(
            &prepared.base_url,
            &prepared.extra_hosts,
            &outbound.endpoint,
        )?;
        let call = Call {
            prepared,
            outbound,
            base,
            url,
        };
        let attempt = call.attempt(&call.prepared.injection)?;
        Ok((call, attempt))
    }

    /// After a 401: the attempt with a renewed credential, or `None` when there is
    /// nothing to renew.
    pub fn retry_after_401(&self, call: &Call) -> Result<Option<Attempt>> {
        match self.access().after_401(&call.prepared)? {
            Some(fresh) => call.attempt(&fresh).map(Some),
            None => Ok(None),
        }
    }
}
