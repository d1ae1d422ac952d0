//! What each tool does, as calls to keyport's API under the session's key (blocking; the
//! handler runs them off the protocol task). A failure a model can act on is a
//! [`Reply::Failed`] with a message saying what to do next; only an unreachable server is
//! an `Err`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::actions::Action;
use crate::cli::CliError;
use crate::cli::client::{Client, Failure, enc};
use crate::http::dto::{
    ActionResultDto, ConnectedAccountDto, ConnectedAccountPage, ConnectionListQuery, ExecuteBody,
    IntegrationDto, IntegrationListQuery, Page, ProxyBody, ProxyParameterDto, ProxyResultDto,
};
use crate::http::v3::dto::{CreateLinkBody, LinkDto};
use crate::service::ConnectionStatus;

/// A tool's answer: a JSON value, or a failure a model can act on (the value, if any,
/// goes along with the message).
pub enum Reply {
    Done(Value),
    Failed(String, Option<Value>),
}

pub struct Calls {
    client: Client,
    entity: String,
}

impl Calls {
    pub fn new(client: Client, entity: String) -> Calls {
        Calls { client, entity }
    }

    fn connections(&self) -> Result<Vec<ConnectedAccountDto>, CliError> {
        let query = ConnectionListQuery {
            user_uuid: Some(self.entity.clone()),
            ..ConnectionListQuery::default()
        };
        let page: ConnectedAccountPage =
            self.client.get_with("/api/v1/connectedAccounts", &query)?;
        Ok(page.items)
    }

    /// The apps (lower-case keys) the entity has an ACTIVE connection to.
    pub fn connected_apps(&self) -> Result<BTreeSet<String>, CliError> {
        Ok(self
            .connections()?
            .into_iter()
            .filter(|c| c.status.0 == ConnectionStatus::Active)
            .map(|c| c.app_name.to_ascii_lowercase())
            .collect())
    }

    pub fn list_connections(&self) -> Result<Reply, CliError> {
        let items: Vec<Value> = self
            .connections()?
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "app": c.app_name,
                    "status": c.status.0.to_string(),
                    "status_reason": c.status_reason,
                    "labels": c.labels,
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
    fn link(&self, app: &str) -> Result<LinkDto, Failure> {
        let query = IntegrationListQuery {
            app_name: Some(app.to_string()),
            ..IntegrationListQuery::default()
        };
        let list: Page<IntegrationDto> = self.client.query("/api/v1/integrations", &query)?;
        let Some(integration) = list.items.into_iter().rev().find(|i| i.enabled) else {
            return Err(Failure::Api {
                status: 404,
                code: "not_found".into(),
                message: format!(
                    "keyport has no enabled integration for {app}; its administrator adds one with `keyport integrations add {app} …`"
                ),
            });
        };
        let body = CreateLinkBody {
            auth_config_id: integration.id,
            user_id: self.entity.clone(),
            callback_url: None,
            alias: None,
            connection_data: None,
            experimental: None,
        };
        self.client.send("/api/v3.1/connected_accounts/link", &body)
    }

    pub fn connect(&self, app: &str) -> Result<Reply, CliError> {
        Ok(match self.link(app) {
            Ok(link) => Reply::Done(json!({
                "app": app,
                "url": link.redirect_url,
                "expires_at": link.expires_at,
                "connected_account_id": link.connected_account_id,
                "message": format!("Ask the user to open this link to connect {app}; its tools appear once the connection is ACTIVE."),
            })),
            Err(Failure::Api { message, .. }) => {
                Reply::Failed(format!("cannot make a link for {app}: {message}"), None)
            }
            Err(Failure::Transport(e)) => return Err(e),
        })
    }

    /// The answer to a call by app that found no connection: says so, with a link when
    /// one can be made.
    fn not_connected(&self, app: &str, failure: Failure) -> Result<Reply, CliError> {
        let Failure::Api { code, message, .. } = failure else {
            return Err(CliError::from(failure));
        };
        if code != "not_found" || self.connected_apps()?.contains(&app.to_ascii_lowercase()) {
            return Ok(Reply::Failed(message, None));
        }
        let next = match self.link(app) {
            Ok(link) => format!(
                "Ask the user to open {} to connect it (the link expires at {}), then call again.",
                link.redirect_url, link.expires_at
            ),
            Err(Failure::Api { message, .. }) => format!("No link can be made: {message}"),
            Err(Failure::Transport(e)) => return Err(e),
        };
        Ok(Reply::Failed(
            format!("{} has no ACTIVE connection to {app}. {next}", self.entity),
            None,
        ))
    }

    /// Runs `action` with an input its schema already accepted.
    pub fn run_action(&self, action: &Action, input: Value) -> Result<Reply, CliError> {
        let body = ExecuteBody {
            entity_id: Some(self.entity.clone()),
            input: Some(input),
            ..ExecuteBody::default()
        };
        let path = format!("/api/v2/actions/{}/execute", enc(action.name()));
        match self.client.send::<_, ActionResultDto>(&path, &body) {
            Ok(result) if result.successful => Ok(Reply::Done(result.data)),
            Ok(result) => Ok(Reply::Failed(
                result
                    .error
                    .unwrap_or_else(|| "the action did not succeed".into()),
                Some(result.data),
            )),
            Err(failure) => self.not_connected(&action.app, failure),
        }
    }

    /// `keyport_proxy` with an input its schema already accepted.
    pub fn proxy(&self, input: &Map<String, Value>) -> Result<Reply, CliError> {
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
        match self
            .client
            .send::<_, ProxyResultDto>("/api/v2/actions/proxy", &body)
        {
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
                Some(app) => self.not_connected(&app, failure),
                None => match failure {
                    Failure::Api { message, .. } => Ok(Reply::Failed(message, None)),
                    Failure::Transport(e) => Err(e),
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
