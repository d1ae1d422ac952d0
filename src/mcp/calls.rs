//! What each tool does, as calls to keyport's API under the caller's key (through a
//! [`Backend`]). A failure a model can act on is a [`Reply::Failed`] with a message saying
//! what to do next; only a keyport that cannot be asked is an `Err`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::backend::{Backend, Failure};
use crate::actions::Action;
use crate::http::dto::{ConnectedAccountDto, ExecuteBody, ProxyBody, ProxyParameterDto};
use crate::http::v3::dto::{CreateLinkBody, LinkDto};
use crate::service::ConnectionStatus;

/// A tool's answer: a JSON value, or a failure a model can act on (the value, if any,
/// goes along with the message).
pub enum Reply {
    Done(Value),
    Failed(String, Option<Value>),
}

/// keyport could not be asked (the server is gone, or answered nonsense).
pub type Broken = String;

/// The tools' work for one entity.
pub struct Calls<B> {
    backend: B,
    entity: String,
}

impl<B: Backend> Calls<B> {
    pub fn new(backend: B, entity: String) -> Calls<B> {
        Calls { backend, entity }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    async fn connections(&self) -> Result<Vec<ConnectedAccountDto>, Broken> {
        self.backend
            .connections(&self.entity)
            .await
            .map_err(Failure::message)
    }

    /// The apps (lower-case keys) the entity has an ACTIVE connection to.
    pub async fn connected_apps(&self) -> Result<BTreeSet<String>, Broken> {
        Ok(self
            .connections()
            .await?
            .into_iter()
            .filter(|c| c.status.0 == ConnectionStatus::Active)
            .map(|c| c.app_name.to_ascii_lowercase())
            .collect())
    }

    pub async fn list_connections(&self) -> Result<Reply, Broken> {
        let items: Vec<Value> = self
            .connections()
            .await?
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "app": c.app_name,
                    "status": c.status.0.to_string(),
                    "status_reason": c.status_reason,
                    "labels": c.labels,
                    "account": c.connection_params.fields.get("account"),
                    "enabled": c.enabled,
                    "created_at": c.created_at,
                })
            })
            .collect();
        Ok(Reply::Done(
            json!({"entity": self.entity, "connections": items}),
        ))
    }

    /// A connect link for `app` through its newest enabled integration.
    async fn link(&self, app: &str) -> Result<LinkDto, Failure> {
        let list = self.backend.integrations(app).await?;
        let Some(integration) = list.into_iter().rev().find(|i| i.enabled) else {
            return Err(Failure::api(
                404,
                "not_found",
                format!(
                    "keyport has no enabled integration for {app}; its administrator adds one with `keyport integrations add {app} …`"
                ),
            ));
        };
        let body = CreateLinkBody {
            auth_config_id: integration.id,
            user_id: self.entity.clone(),
            callback_url: None,
            alias: None,
            connection_data: None,
            experimental: None,
        };
        self.backend.link(body).await
    }

    pub async fn connect(&self, app: &str) -> Result<Reply, Broken> {
        Ok(match self.link(app).await {
            Ok(link) => Reply::Done(json!({
                "app": app,
                "url": link.redirect_url,
                "expires_at": link.expires_at,
                "connected_account_id": link.connected_account_id,
                "message": format!("Ask the user to open this link to connect {app}; its tools appear once the connection is ACTIVE."),
            })),
            Err(Failure::Api { error, .. }) => Reply::Failed(
                format!("cannot make a link for {app}: {}", error.message),
                None,
            ),
            Err(Failure::Broken(e)) => return Err(e),
        })
    }

    /// The answer to a call by app that found no connection: says so, with a link when
    /// one can be made.
    async fn not_connected(&self, app: &str, failure: Failure) -> Result<Reply, Broken> {
        let (code, message) = match failure {
            Failure::Api { error, .. } => (error.code, error.message),
            Failure::Broken(e) => return Err(e),
        };
        if code != "not_found"
            || self
                .connected_apps()
                .await?
                .contains(&app.to_ascii_lowercase())
        {
            return Ok(Reply::Failed(message, None));
        }
        let next = match self.link(app).await {
            Ok(link) => format!(
                "Ask the user to open {} to connect it (the link expires at {}), then call again.",
                link.redirect_url, link.expires_at
            ),
            Err(Failure::Api { error, .. }) => format!("No link can be made: {}", error.message),
            Err(Failure::Broken(e)) => return Err(e),
        };
        Ok(Reply::Failed(
            format!("{} has no ACTIVE connection to {app}. {next}", self.entity),
            None,
        ))
    }

    /// Runs `action` with an input its schema already accepted.
    pub async fn run_action(&self, action: &Action, input: Value) -> Result<Reply, Broken> {
        let body = ExecuteBody {
            entity_id: Some(self.entity.clone()),
            input: Some(input),
            ..ExecuteBody::default()
        };
        match self.backend.execute(action.name(), body).await {
            Ok(result) if result.successful => Ok(Reply::Done(result.data)),
            Ok(result) => Ok(Reply::Failed(
                result
                    .error
                    .unwrap_or_else(|| "the action did not succeed".into()),
                Some(result.data),
            )),
            Err(failure) => self.not_connected(&action.app, failure).await,
        }
    }

    /// `keyport_proxy` with an input its schema already accepted.
    pub async fn proxy(&self, input: &Map<String, Value>) -> Result<Reply, Broken> {
        let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_string);
        let (app, connection) = (text("app"), text("connected_account_id"));
        if app.is_some() == connection.is_some() {
            return Ok(Reply::Failed(
                "give exactly one of app and connected_account_id".into(),
                None,
            ));
        }
        let body = ProxyBody {
            connected_account_id: connection,
            entity_id: app.as_ref().map(|_| self.entity.clone()),
            app_name: app.clone(),
            endpoint: text("endpoint").unwrap_or_default(),
            method: text("method").unwrap_or_default(),
            body: input.get("body").cloned(),
            parameters: Some(parameters(input)),
        };
        match self.backend.proxy(body).await {
            Ok(answer) => {
                let value = json!({"status": answer.status, "headers": answer.headers, "body": answer.data});
                Ok(if answer.successful {
                    Reply::Done(value)
                } else {
                    Reply::Failed(
                        answer.error.unwrap_or_else(|| {
                            format!("the provider answered HTTP {}", answer.status)
                        }),
                        Some(value),
                    )
                })
            }
            Err(failure) => match app {
                Some(app) => self.not_connected(&app, failure).await,
                None => match failure {
                    Failure::Api { error, .. } => Ok(Reply::Failed(error.message, None)),
                    Failure::Broken(e) => Err(e),
                },
            },
        }
    }
}

/// The proxy input's `query` and `headers` as the API's request parameters.
fn parameters(input: &Map<String, Value>) -> Vec<ProxyParameterDto> {
    let mut out = Vec::new();
    for (field, location) in [("query", "query"), ("headers", "header")] {
        if let Some(Value::Object(pairs)) = input.get(field) {
            for (name, value) in pairs {
                out.push(ProxyParameterDto {
                    location: location.into(),
                    name: name.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    out
}
