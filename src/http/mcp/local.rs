//! The tools' [`Backend`] inside `keyport serve`: each call is the API handler the same
//! HTTP request would reach (`GET /api/v1/connectedAccounts`, `POST /api/v2/actions/proxy`…),
//! called in place with the MCP client's key as the caller. A refusal is the API's own,
//! with its status, code and message; the proxy and named actions wait for the provider on
//! this worker's async client like any API request.

use crate::domain::api_key::Restrictions;
use actix_web::web::{self, Json};

use super::super::call::Call;
use super::super::dto::{
    ActionResultDto, ConnectedAccountDto, ConnectionListQuery, ExecuteBody, IntegrationDto,
    IntegrationListQuery, NamePath, ProxyBody, ProxyResultDto,
};
use super::super::v3::dto::{CreateLinkBody, LinkDto};
use super::super::{ApiError, actions, connections, integrations, v3};
use crate::actions::Actions;
use crate::mcp::{Answer, Backend, Failure};
use crate::net::Upstream;

pub struct Local {
    pub call: Call,
    pub upstream: web::Data<Upstream>,
}

/// An API error as the tools read it.
fn failure(e: impl Into<ApiError>) -> Failure {
    let (status, code, message) = e.into().told();
    Failure::api(status.as_u16(), code, message)
}

fn answer<T, E: Into<ApiError>>(reply: Result<Json<T>, E>) -> Answer<T> {
    reply.map(Json::into_inner).map_err(failure)
}

impl Backend for Local {
    fn actions(&self) -> &Actions {
        self.call.service().actions()
    }

    fn restrictions(&self) -> &Restrictions {
        &self.call.caller().restrictions
    }

    async fn connections(&self, entity: &str) -> Answer<Vec<ConnectedAccountDto>> {
        let query = ConnectionListQuery {
            user_uuid: Some(entity.to_string()),
            ..ConnectionListQuery::default()
        };
        let page = answer(connections::list(self.call.clone(), web::Query(query)).await)?;
        Ok(page.items)
    }

    async fn integrations(&self, app: &str) -> Answer<Vec<IntegrationDto>> {
        let query = IntegrationListQuery {
            app_name: Some(app.to_string()),
            ..IntegrationListQuery::default()
        };
        let page = answer(integrations::list(self.call.clone(), web::Query(query)).await)?;
        Ok(page.items)
    }

    async fn link(&self, body: CreateLinkBody) -> Answer<LinkDto> {
        let reply = v3::create_link(self.call.clone(), Json(body)).await;
        reply.map(Json::into_inner).map_err(|e| failure(e.0))
    }

    async fn execute(&self, name: &str, body: ExecuteBody) -> Answer<ActionResultDto> {
        let path = web::Path::from(NamePath {
            name: name.to_string(),
        });
        let reply = actions::execute(self.call.clone(), self.upstream.clone(), path, Json(body));
        answer(reply.await)
    }

    async fn proxy(&self, body: ProxyBody) -> Answer<ProxyResultDto> {
        answer(actions::proxy(self.call.clone(), self.upstream.clone(), Json(body)).await)
    }
}
