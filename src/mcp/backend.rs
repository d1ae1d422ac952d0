//! What the tools need from keyport, as the API's own wire types: the entity's
//! connections, the integrations of an app, a connect link, a named action's execution and
//! a proxied request. Two implementations: over HTTP with the session's key (`keyport mcp
//! serve`, a client of the running server like every CLI subcommand), and inside `keyport
//! serve` through the very handlers those HTTP requests reach (the `/mcp` endpoint). Either
//! way a tool call is an API call under the caller's key, refused or answered by the same
//! code.

use crate::domain::api_key::Restrictions;
use std::future::Future;

use crate::actions::Actions;
use crate::http::dto::{
    ActionResultDto, ConnectedAccountDto, ErrorDetail, ExecuteBody, IntegrationDto, ProxyBody,
    ProxyResultDto,
};
use crate::http::v3::dto::{CreateLinkBody, LinkDto};

/// Why an API call failed: keyport refused it (status, stable code and message, as its
/// error body says them), or keyport could not be asked.
#[derive(Debug)]
pub enum Failure {
    Api { status: u16, error: ErrorDetail },
    Broken(String),
}

impl Failure {
    /// A refusal with `status`, `code` and `message`.
    pub fn api(status: u16, code: &str, message: String) -> Failure {
        Failure::Api {
            status,
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        }
    }

    /// The refusal's message; what went wrong, for a broken call.
    pub fn message(self) -> String {
        match self {
            Failure::Api { error, .. } => error.message,
            Failure::Broken(message) => message,
        }
    }
}

pub type Answer<T> = Result<T, Failure>;

/// keyport's API, as the tools use it.
pub trait Backend {
    /// The named actions the tools offer.
    fn actions(&self) -> &Actions;

    /// What the key the tools run under is restricted to: what it may not run is not
    /// listed.
    fn restrictions(&self) -> &Restrictions;

    /// The entity's connections, all statuses.
    fn connections(&self, entity: &str) -> impl Future<Output = Answer<Vec<ConnectedAccountDto>>>;

    /// The integrations of `app`, oldest first.
    fn integrations(&self, app: &str) -> impl Future<Output = Answer<Vec<IntegrationDto>>>;

    /// A connect link (`POST /api/v3.1/connected_accounts/link`).
    fn link(&self, body: CreateLinkBody) -> impl Future<Output = Answer<LinkDto>>;

    /// `POST /api/v2/actions/{name}/execute`.
    fn execute(
        &self,
        name: &str,
        body: ExecuteBody,
    ) -> impl Future<Output = Answer<ActionResultDto>>;

    /// `POST /api/v2/actions/proxy`.
    fn proxy(&self, body: ProxyBody) -> impl Future<Output = Answer<ProxyResultDto>>;
}
