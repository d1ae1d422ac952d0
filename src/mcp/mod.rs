//! keyport as an MCP server, whatever the transport: the server's description, the tools
//! an entity sees and what a tool call does. Two transports use it: stdio (`keyport mcp
//! serve`, `cli/mcp`, through the rmcp SDK) and Streamable HTTP (`/mcp` on `keyport
//! serve`, `http/mcp`). Both reach keyport through a [`Backend`] that is keyport's own API,
//! so a tool can do only what the caller's key may do through the API.
//!
//! Tool failures are results with `isError: true` and a message a model can act on; only a
//! request that cannot be routed (an unknown tool) is a JSON-RPC error.

pub mod backend;
mod calls;
pub mod tools;

use std::borrow::Cow;
use std::collections::BTreeSet;

use rmcp::model::{
    CallToolResult, ContentBlock, ErrorData, Implementation, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool,
};
use serde_json::Value;

use crate::service::Permission;

pub use backend::{Answer, Backend, Failure};
pub use calls::{Broken, Calls, Reply};
use tools::{Named, Toolbox};

const INSTRUCTIONS: &str = "keyport acts for one user through their connected accounts; credentials stay in keyport. \
Call keyport_list_connections to see what is connected, keyport_connect to get a link the user opens to connect an app, \
the app's named tools once it is connected, and keyport_proxy for any other request to a connected app's API.";

/// The protocol revisions keyport speaks: every one with an `initialize` handshake, up to
/// 2025-11-25. (2026-07-28's stateless lifecycle replaces server-to-client requests such
/// as URL elicitation with multi round-trip results; keyport does not offer it yet.)
pub fn supported_versions() -> Cow<'static, [ProtocolVersion]> {
    Cow::Borrowed(ProtocolVersion::known_up_to(
        &ProtocolVersion::LATEST_WITH_INITIALIZE,
    ))
}

/// The server's description: name, version, instructions, and tools that may change.
pub fn server_info() -> ServerConfig {
    let capabilities = ServerCapabilities::builder()
        .enable_tools()
        .enable_tool_list_changed()
        .build();
    ServerConfig::new(capabilities)
        .with_server_info(Implementation::new("keyport", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
}

/// The entity a key runs tools for: tools run only under a key of `use` permission
/// restricted to one entity (never an admin, manage or reveal key), over either transport.
/// The error says what the key is instead.
pub fn tools_entity(permission: Permission, entity: Option<&str>) -> Result<&str, String> {
    if permission != Permission::Use {
        return Err(format!("has the {permission} permission"));
    }
    entity.ok_or_else(|| "is not restricted to an entity".to_string())
}

/// A failure of keyport itself (not of the tool): a JSON-RPC internal error with the
/// message (no credential ever reaches one).
pub fn internal(e: Broken) -> ErrorData {
    ErrorData::internal_error(e, None)
}

/// A tool's reply as an MCP result.
pub fn result_of(reply: Reply) -> CallToolResult {
    let text = |v: &Value| v.to_string();
    match reply {
        Reply::Done(value) => CallToolResult::success(vec![ContentBlock::text(text(&value))]),
        Reply::Failed(message, value) => {
            let mut content = vec![ContentBlock::text(message)];
            content.extend(value.as_ref().map(|v| ContentBlock::text(text(v))));
            CallToolResult::error(content)
        }
    }
}

impl<B: Backend> Calls<B> {
    fn toolbox(&self) -> Toolbox<'_> {
        Toolbox::new(self.backend().actions())
    }

    /// `tools/list`: keyport's own tools and those of the apps the entity has an ACTIVE
    /// connection to.
    pub async fn tools(&self) -> Result<Vec<Tool>, ErrorData> {
        let apps: BTreeSet<String> = self.connected_apps().await.map_err(internal)?;
        Ok(self
            .toolbox()
            .tools_for(&apps, self.backend().restrictions()))
    }

    /// `tools/call`: an unknown tool is a JSON-RPC error; arguments its schema refuses are
    /// a failed result naming the field, and nothing is sent.
    pub async fn call(&self, name: &str, input: Value) -> Result<Reply, ErrorData> {
        let toolbox = self.toolbox();
        let Some(named) = toolbox.named(name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name}"),
                None,
            ));
        };
        if let Err(e) = toolbox.check(&named, &input) {
            return Ok(Reply::Failed(
                format!("invalid arguments for {name}: {e}; nothing was sent"),
                None,
            ));
        }
        let text = |field: &str| input[field].as_str().unwrap_or_default().to_string();
        let reply = match named {
            Named::Action(action) => self.run_action(action, input).await,
            Named::Own(tools::CONNECT) => self.connect(&text("app")).await,
            Named::Own(tools::PROXY) => {
                self.proxy(input.as_object().unwrap_or(&Default::default()))
                    .await
            }
            Named::Own(_) => self.list_connections().await,
        };
        reply.map_err(internal)
    }
}
