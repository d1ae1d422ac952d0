//! The tools' [`Backend`] for `keyport mcp serve`: keyport's HTTP API under the session's
//! key, each call on the blocking pool (the CLI's client blocks), off the protocol task.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::actions::Actions;
use crate::cli::client::{self, Client, enc};
use crate::domain::api_key::Restrictions;
use crate::http::dto::{
    ActionResultDto, ConnectedAccountDto, ConnectedAccountPage, ConnectionListQuery, ExecuteBody,
    IntegrationDto, IntegrationListQuery, Page, ProxyBody, ProxyResultDto,
};
use crate::http::v3::dto::{CreateLinkBody, LinkDto};
use crate::mcp::{Answer, Backend, Failure};

pub struct Api {
    client: Arc<Client>,
    actions: Actions,
    restrictions: Restrictions,
}

impl Api {
    pub fn new(client: Client, actions: Actions, restrictions: Restrictions) -> Api {
        Api {
            client: Arc::new(client),
            actions,
            restrictions,
        }
    }

    /// Runs one blocking API call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Client) -> Result<T, client::Failure> + Send + 'static,
    ) -> Answer<T> {
        let client = Arc::clone(&self.client);
        match tokio::task::spawn_blocking(move || call(&client)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(client::Failure::Api { status, error })) => Err(Failure::Api { status, error }),
            Ok(Err(client::Failure::Transport(e))) => Err(Failure::Broken(e.message)),
            Err(e) => Err(Failure::Broken(format!("the call stopped: {e}"))),
        }
    }

    async fn get<Q, T>(&self, path: &'static str, query: Q) -> Answer<T>
    where
        Q: Serialize + Send + 'static,
        T: DeserializeOwned + Send + 'static,
    {
        self.blocking(move |client| client.query(path, &query))
            .await
    }

    async fn post<B, T>(&self, path: String, body: B) -> Answer<T>
    where
        B: Serialize + Send + 'static,
        T: DeserializeOwned + Send + 'static,
    {
        self.blocking(move |client| client.send(&path, &body)).await
    }
}

impl Backend for Api {
    fn actions(&self) -> &Actions {
        &self.actions
    }

    fn restrictions(&self) -> &Restrictions {
        &self.restrictions
    }

    async fn connections(&self, entity: &str) -> Answer<Vec<ConnectedAccountDto>> {
        let query = ConnectionListQuery {
            user_uuid: Some(entity.to_string()),
            ..ConnectionListQuery::default()
        };
        let page: ConnectedAccountPage = self.get("/api/v1/connectedAccounts", query).await?;
        Ok(page.items)
    }

    async fn integrations(&self, app: &str) -> Answer<Vec<IntegrationDto>> {
        let query = IntegrationListQuery {
            app_name: Some(app.to_string()),
            ..IntegrationListQuery::default()
        };
        let page: Page<IntegrationDto> = self.get("/api/v1/integrations", query).await?;
        Ok(page.items)
    }

    async fn link(&self, body: CreateLinkBody) -> Answer<LinkDto> {
        self.post("/api/v3.1/connected_accounts/link".into(), body)
            .await
    }

    async fn execute(&self, name: &str, body: ExecuteBody) -> Answer<ActionResultDto> {
        let path = format!("/api/v2/actions/{}/execute", enc(name));
        self.post(path, body).await
    }

    async fn proxy(&self, body: ProxyBody) -> Answer<ProxyResultDto> {
        self.post("/api/v2/actions/proxy".into(), body).await
    }
}
