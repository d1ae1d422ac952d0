//! Remote MCP servers (keyport's own resource, `/api/v1/mcp/servers`): adding one, the
//! list, and the token a bridge attaches to its next request to one.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::service::{AddedServer, IntegrationView, ServerToken};

/// `POST /api/v1/mcp/servers`: a remote MCP server to discover and enrol with.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMcpServerBody {
    /// What `keyport mcp bridge NAME` calls it: 1 to 64 of A-Z, a-z, 0-9, `-`, `_`, `.`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// The server's Streamable HTTP endpoint (https; plain http only on loopback).
    pub url: String,
    /// A client registered by hand at the server's authorization server (else keyport
    /// registers itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// That client's secret, if it is confidential. Sealed; never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// An https URL where keyport's Client ID Metadata Document is published, used where
    /// the authorization server supports those documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_metadata_url: Option<String>,
}

impl std::fmt::Debug for AddMcpServerBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddMcpServerBody")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A remote MCP server keyport holds logins for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerDto {
    /// The integration behind it (`/api/v1/integrations/{id}`).
    pub id: String,
    pub name: String,
    /// The Streamable HTTP endpoint, also the `resource` of its tokens (RFC 8707).
    pub url: String,
    /// The authorization server's issuer.
    pub issuer: String,
    pub client_id: String,
    /// The scopes a login asks for.
    pub scopes: Vec<String>,
    /// The redirect URI keyport registered (or that a hand-registered client needs).
    pub callback_url: String,
    pub enabled: bool,
}

impl From<&IntegrationView> for McpServerDto {
    fn from(view: &IntegrationView) -> Self {
        let i = &view.integration;
        let text = |k: &str| i.config_str(k).unwrap_or_default().to_string();
        McpServerDto {
            id: i.id.to_string(),
            name: i.name.clone(),
            url: i.base_url.clone(),
            issuer: text("issuer"),
            client_id: text("client_id"),
            scopes: i.scopes.clone(),
            callback_url: view.callback_url.clone().unwrap_or_default(),
            enabled: i.enabled,
        }
    }
}

/// A server just added, and how keyport became a client of its authorization server.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddedMcpServerDto {
    #[serde(flatten)]
    pub server: McpServerDto,
    /// `registered` (RFC 7591, now), `reused` (the client registered for another server of
    /// this issuer), `pre-registered` or `client-metadata-document`.
    pub enrolment: String,
}

impl From<&AddedServer> for AddedMcpServerDto {
    fn from(added: &AddedServer) -> Self {
        AddedMcpServerDto {
            server: McpServerDto::from(&added.view),
            enrolment: added.enrolment.as_str().to_string(),
        }
    }
}

/// The server's name in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ServerPath {
    /// The name given to `keyport mcp add`.
    pub name: String,
}

/// `POST /api/v1/mcp/servers/{name}/token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpTokenBody {
    /// The entity whose login to use (default: the key's entity, else `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// The SHA-256 (hex) of a token the server just refused with 401: the answer is then a
    /// newer one, from one renewal shared by every bridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// `false`: without a usable login, only say so (`LOGIN_REQUIRED` with no link) rather
    /// than start a sign-in. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<bool>,
}

/// `POST /api/v1/mcp/servers/{name}/step_up`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpStepUpBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// The `scope` of the server's `insufficient_scope` challenge.
    pub scope: String,
}

/// The token for a bridge's next request, or the link a login needs first.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpTokenDto {
    /// `ACTIVE` (an `accessToken`) or `LOGIN_REQUIRED` (a `connectUrl` and a `reason`).
    pub status: String,
    /// The login's connection (none when no sign-in was started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Debug for McpTokenDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTokenDto")
            .field("status", &self.status)
            .field("connected_account_id", &self.connected_account_id)
            .field("connect_url", &self.connect_url)
            .finish_non_exhaustive()
    }
}

pub const TOKEN_ACTIVE: &str = "ACTIVE";
pub const LOGIN_REQUIRED: &str = "LOGIN_REQUIRED";

impl From<ServerToken> for McpTokenDto {
    fn from(token: ServerToken) -> Self {
        match token {
            ServerToken::Missing { reason } => McpTokenDto {
                status: LOGIN_REQUIRED.into(),
                connected_account_id: None,
                access_token: None,
                connect_url: None,
                reason: Some(reason),
            },
            ServerToken::Active { connection, token } => McpTokenDto {
                status: TOKEN_ACTIVE.into(),
                connected_account_id: Some(connection.to_string()),
                access_token: Some(token.expose_secret().to_string()),
                connect_url: None,
                reason: None,
            },
            ServerToken::LoginRequired {
                connection,
                url,
                reason,
            } => McpTokenDto {
                status: LOGIN_REQUIRED.into(),
                connected_account_id: Some(connection.to_string()),
                access_token: None,
                connect_url: Some(url),
                reason: Some(reason),
            },
        }
    }
}
