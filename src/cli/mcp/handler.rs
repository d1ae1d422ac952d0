//! The stdio side of keyport's MCP server (rmcp): the protocol and transport are the SDK's,
//! the tools are `crate::mcp`'s. Input that is not JSON at all gets no answer, as in the
//! other official SDKs (there is no id to answer, and answering invites an error storm;
//! rust-sdk#938), and an oversized line is dropped; either way the session goes on.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerConfig,
};
use rmcp::service::{ElicitationMode, Peer, RequestContext};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use super::api::Api;
use crate::cli::CliError;
use crate::mcp::{self, Calls, Reply, tools};

/// The longest message read: longer lines are dropped (rmcp logs them) and the session
/// goes on. A tool call's arguments become one API request, whose body is limited to
/// `MAX_BODY`; twice that leaves room for the JSON-RPC envelope and escaping.
const MAX_MESSAGE: usize = 2 * crate::http::MAX_BODY;

/// How often the session looks for a change in the entity's connected apps: one loopback
/// request, far below what a host notices.
const WATCH_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Keyport {
    calls: Arc<Calls<Api>>,
}

impl Keyport {
    /// `keyport_connect`'s link, also shown to the user through URL elicitation when the
    /// host supports it (the answer says what the user did).
    async fn elicit(&self, app: &str, link: &mut Value, peer: &Peer<RoleServer>) {
        let url = link["url"].as_str().and_then(|u| url::Url::parse(u).ok());
        let id = link["connected_account_id"].as_str().map(str::to_string);
        if let (Some(url), Some(id)) = (url, id)
            && peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Url)
        {
            let message = format!("Connect {app} to keyport: sign in with the provider");
            link["elicitation"] = match peer.elicit_url(message, url, id).await {
                Ok(action) => serde_json::to_value(action).unwrap_or(Value::Null),
                Err(_) => Value::from("unavailable"),
            };
        }
    }

    async fn call(
        &self,
        name: &str,
        input: Value,
        peer: &Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let app = input["app"].as_str().unwrap_or_default().to_string();
        let mut reply = self.calls.call(name, input).await?;
        if name == tools::CONNECT
            && let Reply::Done(link) = &mut reply
        {
            self.elicit(&app, link, peer).await;
        }
        Ok(mcp::result_of(reply))
    }
}

impl ServerHandler for Keyport {
    fn get_info(&self) -> ServerConfig {
        mcp::server_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        mcp::supported_versions()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.calls.tools().await?))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let input = Value::Object(request.arguments.unwrap_or_default());
        self.call(&request.name, input, &context.peer)
            .await
            .map(CallToolResponse::from)
    }
}

/// Serves MCP over stdin/stdout until the host closes it or the process is told to stop.
pub async fn serve_stdio(calls: Calls<Api>) -> Result<(), CliError> {
    let server = Keyport {
        calls: Arc::new(calls),
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
        let Ok(apps) = server.calls.connected_apps().await else {
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
