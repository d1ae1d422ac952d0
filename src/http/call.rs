//! What every API handler takes and gives: a [`Call`] (the service and the caller the
//! guard let in, extracted together, since every service operation is asked for by a
//! caller) and a [`Reply`] (its wire type, answered as JSON with status 200), so a
//! handler's signature names the body its `#[utoipa::path]` documents. Service work runs
//! on the blocking pool, or inline when it needs no I/O ([`Call::run_inline_on`]); the
//! proxy and named actions take the service and caller apart and wait for the provider
//! asynchronously.

use std::str::FromStr;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::{Ready, ready};

use super::ApiError;
use super::dto::IdPath;
use crate::service::{self, Caller, Error, Service};

/// A handler's answer: its wire type as JSON, or an error.
pub type Reply<T> = Result<web::Json<T>, ApiError>;

/// A path that names one resource (`/{id}` in v1, `/{nanoid}` in v3): the id it carries,
/// parsed as `I`, for [`Call::run_on`] and its kin.
pub trait ResourcePath<I> {
    fn id(&self) -> Result<I, Error>;
}

impl<I: FromStr> ResourcePath<I> for IdPath
where
    Error: From<I::Err>,
{
    fn id(&self) -> Result<I, Error> {
        Ok(self.id.parse()?)
    }
}

impl<I, P: ResourcePath<I>> ResourcePath<I> for web::Path<P> {
    fn id(&self) -> Result<I, Error> {
        (**self).id()
    }
}

/// An authenticated call to the service.
#[derive(Clone)]
pub struct Call {
    svc: web::Data<Service>,
    caller: Caller,
    /// The method and path this call came on, for the audit record of a refusal.
    line: Arc<(String, String)>,
}

impl Call {
    /// A call made from inside the server for `caller` (the MCP endpoint's tools call the
    /// API's handlers with one).
    pub fn new(svc: web::Data<Service>, caller: Caller) -> Call {
        let line = Arc::new(("INTERNAL".to_owned(), String::new()));
        Call { svc, caller, line }
    }

    /// The service's answer as the handler's; a refusal (403) is recorded in the audit log
    /// with the request line it came on.
    fn answered<T>(&self, result: service::Result<T>) -> Result<T, ApiError> {
        result.map_err(|e| {
            if matches!(e, Error::Forbidden(_)) {
                self.svc
                    .audit_refused(&self.caller, (&self.line.0, &self.line.1), &e);
            }
            ApiError::Service(e)
        })
    }

    /// Runs `work` for the caller on the blocking pool.
    pub async fn run<T, F>(self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Service, &Caller) -> service::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        // The call travels to the pool and back, so a refusal can be recorded with it.
        let (call, result) = web::block(move || {
            let result = work(&self.svc, &self.caller);
            (self, result)
        })
        .await
        .map_err(|_| Error::Internal("blocking pool unavailable".into()))?;
        call.answered(result)
    }

    /// Runs `work` like [`Call::run`] and answers with its view in the wire shape `D`.
    pub async fn reply<T, D, F>(self, work: F) -> Reply<D>
    where
        F: FnOnce(&Service, &Caller) -> service::Result<T> + Send + 'static,
        T: Send + 'static,
        D: for<'a> From<&'a T>,
    {
        let view = self.run(work).await?;
        Ok(web::Json(D::from(&view)))
    }

    /// An operation on one resource: the id in `path` parsed as `I`, then [`Call::run`]
    /// with `work` on it.
    pub async fn run_on<I, T, F>(self, path: &impl ResourcePath<I>, work: F) -> Result<T, ApiError>
    where
        I: Send + 'static,
        F: FnOnce(&Service, &Caller, I) -> service::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let id = path.id()?;
        self.run(move |svc, caller| work(svc, caller, id)).await
    }

    /// [`Call::run_on`] for an operation that usually needs no I/O: attempted inline on
    /// this worker first (`crate::inline`), and run on the blocking pool only if it would
    /// block. `work` may therefore start twice; reads only.
    pub async fn run_inline_on<I, T, F>(
        self,
        path: &impl ResourcePath<I>,
        work: F,
    ) -> Result<T, ApiError>
    where
        I: Clone + Send + 'static,
        F: Fn(&Service, &Caller, I) -> service::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let id = path.id()?;
        match crate::inline::attempt(|| work(&self.svc, &self.caller, id.clone())) {
            Err(e) if e.would_block() => {}
            done => return self.answered(done),
        }
        // Boxed, and after the attempt's result is gone: the fallback is rare, and its
        // state would otherwise make every handler's future too large for the allocator's
        // small sizes.
        Box::pin(self.run(move |svc, caller| work(svc, caller, id))).await
    }

    /// The extract → service → map shape of an operation on one resource: [`Call::run_on`],
    /// answered with its view in the wire shape `D`.
    pub async fn reply_on<I, T, D, F>(self, path: &impl ResourcePath<I>, work: F) -> Reply<D>
    where
        I: Send + 'static,
        F: FnOnce(&Service, &Caller, I) -> service::Result<T> + Send + 'static,
        T: Send + 'static,
        D: for<'a> From<&'a T>,
    {
        let view = self.run_on(path, work).await?;
        Ok(web::Json(D::from(&view)))
    }

    /// Runs `work` here: for reads of what the service holds in memory (the catalog).
    pub fn now<T>(&self, work: impl FnOnce(&Service, &Caller) -> service::Result<T>) -> Reply<T> {
        Ok(web::Json(self.answered(work(&self.svc, &self.caller))?))
    }

    /// The service and the caller, for the service's async operations (the proxy and
    /// named actions), which put on the blocking pool only what must go there.
    pub fn into_parts(self) -> (Arc<Service>, Caller) {
        (self.svc.into_inner(), self.caller)
    }

    pub fn service(&self) -> &Service {
        &self.svc
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

impl FromRequest for Call {
    type Error = actix_web::Error;
    type Future = Ready<Result<Call, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let call = web::Data::<Service>::extract(req)
            .into_inner()
            .and_then(|svc| {
                let caller = Caller::from_request(req, payload).into_inner()?;
                let line = Arc::new((req.method().to_string(), req.path().to_owned()));
                Ok(Call { svc, caller, line })
            });
        ready(call)
    }
}

#[cfg(test)]
mod tests {
    /// The size of the future an async handler taking two extractors returns.
    fn future_size<A, B, F, H: Fn(A, B) -> F>(_: &H) -> usize {
        std::mem::size_of::<F>()
    }

    /// actix boxes each handler's future, with its extractors, once per request. At 1 KiB
    /// and more that is one of glibc's large sizes, whose allocation first consolidates
    /// every small free chunk: a few per cent of a credential read went there while the
    /// blocking fallback's state was part of every hot handler's future (856 bytes, then
    /// over the line with actix's wrapper).
    #[test]
    fn hot_handlers_futures_stay_small() {
        for (name, size) in [
            (
                "credentials",
                future_size(&super::super::connections::credentials),
            ),
            ("get", future_size(&super::super::connections::get)),
        ] {
            assert!(size <= 512, "{name}'s future is {size} bytes");
        }
    }
}
