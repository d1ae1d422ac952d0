//! Named actions through the proxy: look the action up, validate the input against its
//! schema before anything else happens, pick the connection, plan the request and send it
//! with the same path, checks and credential handling as `POST /api/v2/actions/proxy`
//! (planning on the blocking pool, the wait on the worker: see [`call`](super::call)).

use serde_json::{Map, Value};

use super::call::{Attempt, Call};
use super::{Outbound, Proxy, Target};
use crate::domain::api_key::{Access, Permission};
use crate::ids::ConnectionId;
use crate::service::apps::Apps;
use crate::service::caller::{Act, Caller};
use crate::service::error::{Error, Result};

/// `POST /api/v2/actions/{name}/execute`, as the service sees it.
#[derive(Debug, Clone, Default)]
pub struct ExecuteAction {
    pub name: String,
    pub connected_account_id: Option<ConnectionId>,
    pub entity_id: Option<String>,
    /// The app the caller thinks the action belongs to (the SDK sends it upper-case).
    pub app_name: Option<String>,
    pub input: Value,
}

/// The Composio result of an execution.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    pub data: Value,
    pub successful: bool,
    pub error: Option<String>,
}

impl Proxy<'_> {
    /// A named action's request, ready to send: its input validated first, then its
    /// request planned with the credential of the connection it acts through.
    pub fn plan(&self, caller: &Caller, req: &ExecuteAction) -> Result<(Call, Attempt)> {
        caller.require(Permission::Use)?;
        let action = Apps::new(self.ctx).action(&req.name)?;
        if let Some(app) = req.app_name.as_deref().filter(|a| !a.trim().is_empty())
            && !app.trim().eq_ignore_ascii_case(&action.app)
        {
            return Err(Error::invalid(format!(
                "appName: {} is a {} action, not {app}",
                action.name(),
                action.app
            )));
        }
        let input = match &req.input {
            Value::Null => Value::Object(Map::new()),
            other => other.clone(),
        };
        action.validate_input(&input)?;
        let fields = input.as_object().cloned().unwrap_or_default();
        let planned = action.plan(&fields)?;
        let target = match req.connected_account_id {
            Some(id) => Target::Connection(id),
            None => Target::Entity {
                entity: req.entity_id.clone(),
                app: action.app.clone(),
            },
        };
        let id = self.resolve_target(caller, &target)?;
        let act = Act::Action {
            name: action.name(),
            method: &planned.method,
            access: action.access(),
        };
        let prepared = self.access().prepare(caller, id, act)?;
        if prepared.connection.app_key != action.app {
            return Err(Error::invalid(format!(
                "connectedAccountId: connection {id} is for {}, and {} needs a {} connection",
                prepared.connection.app_key,
                action.name(),
                action.app
            )));
        }
        let outbound = Outbound {
            method: planned.method,
            endpoint: planned.endpoint,
            headers: Vec::new(),
            query: Vec::new(),
            body: planned
                .body
                .map(|b| ("application/json".to_string(), b.to_string().into_bytes())),
        };
        self.start_call(prepared, outbound)
    }

    /// One follow-up read of the expanding action `name` (see
    /// [`Expand`](crate::actions::Expand)), through the connection its first request used,
    /// under the same checks as the action itself.
    pub fn follow_up(
        &self,
        caller: &Caller,
        id: ConnectionId,
        name: &str,
        endpoint: String,
    ) -> Result<(Call, Attempt)> {
        let method = http::Method::GET;
        let act = Act::Action {
            name,
            method: &method,
            access: Access::Read,
        };
        let prepared = self.access().prepare(caller, id, act)?;
        let outbound = Outbound {
            method,
            endpoint,
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
        };
        self.start_call(prepared, outbound)
    }

    /// What the provider's answer `data` (with `status`) means for the action `name`.
    pub fn outcome(&self, name: &str, status: u16, data: Value) -> Result<ActionOutcome> {
        let action = Apps::new(self.ctx).action(name)?;
        let outcome = action.outcome(status, data);
        Ok(ActionOutcome {
            data: outcome.data,
            successful: outcome.successful,
            error: outcome.error,
        })
    }
}
