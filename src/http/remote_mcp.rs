//! `/api/v1/mcp/servers`: remote MCP servers whose logins keyport holds. Adding one is for
//! admin keys; a bridge's `use` key (restricted to its entity) asks for the token of its
//! next request, or starts a step-up.

use actix_web::web::{self, Json};

use super::call::{Call, Reply};
use super::dto::{
    AddMcpServerBody, AddedMcpServerDto, ChangeErrors, DiscoveryErrors, McpServerDto,
    McpStepUpBody, McpTokenBody, McpTokenDto, Page, Refusals, SendErrors, ServerPath,
};
use crate::service::{AddServer, TokenAsk};

/// Discovers a remote MCP server's authorization server and enrols keyport there.
#[utoipa::path(post, path = "/api/v1/mcp/servers", tag = "mcp",
    operation_id = "addMcpServer", request_body = AddMcpServerBody,
    responses((status = 200, description = "The server, and how keyport enrolled", body = AddedMcpServerDto), DiscoveryErrors))]
pub async fn add(call: Call, body: Json<AddMcpServerBody>) -> Reply<AddedMcpServerDto> {
    let body = body.into_inner();
    let req = AddServer {
        name: body.name,
        url: body.url,
        client_id: body.client_id,
        client_secret: body.client_secret,
        client_metadata_url: body.client_metadata_url,
    };
    let added = call
        .run(move |svc, caller| svc.add_mcp_server(caller, req))
        .await?;
    Ok(web::Json(AddedMcpServerDto::from(&added)))
}

/// The remote MCP servers.
#[utoipa::path(get, path = "/api/v1/mcp/servers", tag = "mcp",
    operation_id = "listMcpServers",
    responses((status = 200, description = "Every server", body = Page<McpServerDto>), Refusals))]
pub async fn list(call: Call) -> Reply<Page<McpServerDto>> {
    let servers = call.run(|svc, caller| svc.list_mcp_servers(caller)).await?;
    Ok(web::Json(Page::whole(
        servers.iter().map(McpServerDto::from).collect(),
    )))
}

/// The access token a bridge attaches to its next request (renewed first when due), or
/// the link that makes a login.
#[utoipa::path(post, path = "/api/v1/mcp/servers/{name}/token", tag = "mcp",
    operation_id = "mcpServerToken", params(ServerPath), request_body = McpTokenBody,
    responses((status = 200, description = "A token, or the link a login needs", body = McpTokenDto), SendErrors))]
pub async fn token(
    call: Call,
    path: web::Path<ServerPath>,
    body: Json<McpTokenBody>,
) -> Reply<McpTokenDto> {
    let name = path.into_inner().name;
    let body = body.into_inner();
    let token = call
        .run(move |svc, caller| {
            let ask = TokenAsk {
                entity: body.entity_id.as_deref(),
                refused: body.refused.as_deref(),
                link: body.link.unwrap_or(true),
            };
            svc.mcp_server_token(caller, &name, ask)
        })
        .await?;
    Ok(web::Json(McpTokenDto::from(token)))
}

/// The server answered `insufficient_scope`: its scopes grow, and the login is authorized
/// again in a browser.
#[utoipa::path(post, path = "/api/v1/mcp/servers/{name}/step_up", tag = "mcp",
    operation_id = "mcpServerStepUp", params(ServerPath), request_body = McpStepUpBody,
    responses((status = 200, description = "The link to authorize again", body = McpTokenDto), ChangeErrors))]
pub async fn step_up(
    call: Call,
    path: web::Path<ServerPath>,
    body: Json<McpStepUpBody>,
) -> Reply<McpTokenDto> {
    let name = path.into_inner().name;
    let body = body.into_inner();
    let token = call
        .run(move |svc, caller| {
            svc.mcp_server_step_up(caller, &name, body.entity_id.as_deref(), &body.scope)
        })
        .await?;
    Ok(web::Json(McpTokenDto::from(token)))
}
