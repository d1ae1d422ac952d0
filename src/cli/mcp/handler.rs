//! The MCP protocol side (rmcp): initialize, `tools/list` for the entity's connected apps,
//! `tools/call` checked against the tool's schema before anything is sent, and the stdio
//! transport. Tool failures are results with `isError: true`; only requests that cannot
//! be routed (an unknown tool or method, a message that is not JSON-RPC) are JSON-RPC
//! errors. Input that is not JSON at all gets no answer, as in the other official SDKs
//! (there is no id to answer, and answering invites an error storm; rust-sdk#938), and an
//! oversized line is dropped; either way the session goes on.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{ElicitationMode, Peer, RequestContext};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use super::calls::{Calls, Reply};
use super::tools::{self, Named, Toolbox};
use crate::actions::Actions;
use crate::cli::CliError;
use crate::providers::Catalog;

/// The longest message read: longer lines are dropped (rmcp logs them) and the session
/// goes on. A tool call's arguments become one API request, whose body is limited to
/// `MAX_BODY`; twice that leaves room for the JSON-RPC envelope and escaping.
const MAX_MESSAGE: usize = 2 * crate::http::MAX_BODY;

/// How often the session looks for a change in the entity's connected apps: one loopback
/// request, far below what a host notices.
const WATCH_EVERY: Duration = Duration::from_secs(2);

struct Inner {
    calls: Calls,
    toolbox: Toolbox,
}

#[derive(Clone)]
pub struct Keyport {
    inner: Arc<Inner>,
}

const INSTRUCTIONS: &str = "keyport acts for one user through their connected accounts; credentials stay in keyport. \
Call keyport_list_connections to see what is connected, keyport_connect to get a link the user opens to connect an app, \
the app's named tools once it is connected, and keyport_proxy for any other request to a connected app's API.";

/// A failure of keyport itself (not of the tool): a JSON-RPC internal error, with the
/// message (no credential ever reaches one).
fn internal(e: CliError) -> ErrorData {
    ErrorData::internal_error(e.message, None)
}

fn result_of(reply: Reply) -> CallToolResult {
    let text = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    match reply {
        Reply::Done(value) => CallToolResult::success(vec![ContentBlock::text(text(&value))]),
        Reply::Failed(message, value) => {
            let mut content = vec![ContentBlock::text(message)];
            content.extend(value.as_ref().map(|v| ContentBlock::text(text(v))));
            CallToolResult::error(content)
        }
    }
}

impl Keyport {
    /// Runs `f` on the calls off the protocol task (they block on HTTP).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, CliError> + Send + 'static,
    ) -> Result<T, ErrorData> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the call stopped: {e}"), None))?
            .map_err(internal)
    }

    async fn call(
        &self,
        name: String,
        input: Value,
        peer: &Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(named) = self.inner.toolbox.named(&name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name}"),
                None,
            ));
        };
        if let Err(e) = self.inner.toolbox.check(&named, &input) {
            return Ok(result_of(Reply::Failed(
                format!("invalid arguments for {name}: {e}; nothing was sent"),
                None,
            )));
        }
        let action = match named {
            Named::Action(action) => Some(action.name().to_string()),
            Named::Own(tools::CONNECT) => {
                let app = input["app"].as_str().unwrap_or_default().to_string();
                return self.connect(app, peer).await;
            }
            Named::Own(_) => None,
        };
        let reply = self
            .blocking(move |inner| {
                let object = input.as_object().cloned().unwrap_or_default();
                match (action, name.as_str()) {
                    (Some(action), _) => match inner.toolbox.named(&action) {
                        Some(Named::Action(a)) => inner.calls.run_action(a, input),
                        _ => Err(CliError::new(format!("{action} vanished"))),
                    },
                    (None, tools::PROXY) => inner.calls.proxy(&object),
                    (None, _) => inner.calls.list_connections(),
                }
            })
            .await?;
        Ok(result_of(reply))
    }
}

impl Keyport {
    /// `keyport_connect`: the link, also shown to the user through URL elicitation when
    /// the host supports it (the answer says what the user did).
    async fn connect(
        &self,
        app: String,
        peer: &Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let label = app.clone();
        let reply = self
            .blocking(move |inner| inner.calls.connect(&app))
            .await?;
        let Reply::Done(mut link) = reply else {
            return Ok(result_of(reply));
        };
        let url = link["url"].as_str().and_then(|u| url::Url::parse(u).ok());
        let id = link["connected_account_id"].as_str().map(str::to_string);
        if let (Some(url), Some(id)) = (url, id)
            && peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Url)
        {
            let message = format!("Connect {label} to keyport: sign in with the provider");
            link["elicitation"] = match peer.elicit_url(message, url, id).await {
                Ok(action) => serde_json::to_value(action).unwrap_or(Value::Null),
                Err(_) => Value::from("unavailable"),
            };
        }
        Ok(result_of(Reply::Done(link)))
    }
}

impl ServerHandler for Keyport {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("keyport", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let apps = self.blocking(|inner| inner.calls.connected_apps()).await?;
        Ok(ListToolsResult::with_all_items(
            self.inner.toolbox.tools_for(&apps),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let input = Value::Object(request.arguments.unwrap_or_default());
        self.call(request.name.into_owned(), input, &context.peer)
            .await
            .map(CallToolResponse::from)
    }
}

/// Serves MCP over stdin/stdout until the host closes it or the process is told to stop.
pub async fn serve_stdio(calls: Calls) -> Result<(), CliError> {
    let catalog = Catalog::builtin().map_err(|e| CliError::new(e.to_string()))?;
    let actions = Actions::builtin(&catalog).map_err(|e| CliError::new(e.to_string()))?;
    let toolbox = Toolbox::new(actions).map_err(CliError::new)?;
    let server = Keyport {
        inner: Arc::new(Inner { calls, toolbox }),
    };
    let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
    let transport =
        AsyncRwTransport::<RoleServer, _, _>::new(stdin, stdout).with_max_line_length(MAX_MESSAGE);
    let running = server
        .clone()
        .serve(transport)
        .await
        .map_err(|e| CliError::new(format!("MCP session did not start: {e}")))?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CliError::new(format!("cannot watch for SIGTERM: {e}")))?;
    let cancel = running.cancellation_token();
    let watcher = tokio::spawn(watch(server, running.peer().clone()));
    tokio::select! {
        done = running.waiting() => {
            done.map_err(|e| CliError::new(format!("MCP session failed: {e}")))?;
        }
        _ = terminate.recv() => cancel.cancel(),
        _ = tokio::signal::ctrl_c() => cancel.cancel(),
    }
    watcher.abort();
    Ok(())
}

/// Tells the host `notifications/tools/list_changed` whenever the set of apps the entity
/// has an ACTIVE connection to changes (a connection turned ACTIVE, EXPIRED, INACTIVE or
/// was deleted), looking every `WATCH_EVERY`.
async fn watch(server: Keyport, peer: Peer<RoleServer>) {
    let mut known = None;
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let Ok(apps) = server.blocking(|inner| inner.calls.connected_apps()).await else {
            continue;
        };
        if known.as_ref().is_some_and(|k| *k != apps)
            && peer.notify_tool_list_changed().await.is_err()
        {
            return;
        }
        known = Some(apps);
    }
}
