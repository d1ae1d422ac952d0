//! `/mcp`: keyport's MCP server over Streamable HTTP (revisions 2025-03-26 to 2025-11-25),
//! for hosts that take a URL. The front door (`guard.rs`) has already checked the Host and
//! Origin (DNS rebinding against local MCP servers) and the API key, which must be of
//! `use` permission and restricted to one entity: that entity's tools are the ones served.
//!
//! - `POST` carries one JSON-RPC message. `initialize` opens a session (`Mcp-Session-Id`
//!   in the answer, see `sessions.rs`); every other message names it. A request is
//!   answered with one JSON body; a notification or response with 202.
//! - `GET` opens the session's event stream, which says
//!   `notifications/tools/list_changed` when the entity's connected apps change.
//! - `DELETE` ends the session.
//!
//! Protocol refusals (no session, an unknown one, an unsupported `MCP-Protocol-Version`,
//! a body that is not one JSON-RPC message) answer the HTTP status the specification
//! names with a JSON-RPC error body. The tools are `crate::mcp`'s, through the API's own
//! handlers (`local.rs`).

mod local;
mod message;
mod sessions;
mod stream;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rmcp::model::{
    ErrorCode, ErrorData, JsonRpcError, JsonRpcMessage, ListToolsResult, ProtocolVersion,
    RequestId, ServerJsonRpcMessage, ServerResult,
};

use message::{Message, Request};
pub use sessions::Sessions;

use super::call::Call;
use super::{ApiError, MAX_BODY};
use crate::mcp::{self, Calls};
use crate::net::Upstream;
use crate::service::{Caller, Error};

const SESSION: &str = "mcp-session-id";
const VERSION: &str = "mcp-protocol-version";

/// The largest message taken: a tool call's arguments become one API request, whose body
/// is limited to `MAX_BODY`; twice that leaves room for the envelope and escaping.
const MAX_MESSAGE: usize = 2 * MAX_BODY;

/// Why a request is not served.
#[derive(Debug)]
enum Refusal {
    /// A protocol refusal: the status, with a JSON-RPC error body.
    Protocol(StatusCode, ErrorCode, String),
    /// A request for a method keyport knows, with parameters that do not fit it: answered
    /// as a JSON-RPC error to that request.
    Params(RequestId, String),
    /// The key may not run tools: 403 in keyport's error envelope.
    Key(String),
}

impl Refusal {
    fn response(self) -> HttpResponse {
        match self {
            Refusal::Protocol(status, code, message) => {
                let error = ErrorData::new(code, message, None);
                HttpResponse::build(status).json(JsonRpcError::new(None, error))
            }
            Refusal::Params(id, message) => answer(&JsonRpcMessage::Error(JsonRpcError::new(
                Some(id),
                ErrorData::invalid_params(message, None),
            ))),
            Refusal::Key(message) => {
                ApiError::Service(Error::Forbidden(message)).respond(super::Envelope::V1)
            }
        }
    }
}

fn refuse(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal::Protocol(status, code, message.into())
}

/// The MCP client behind one request: its key's entity, refused unless the key may run
/// tools.
fn client(call: &Call) -> Result<String, Refusal> {
    let caller = call.caller();
    mcp::tools_entity(
        caller.permission,
        caller.entity.as_ref().map(|e| e.as_str()),
    )
    .map(str::to_string)
    .map_err(|why| {
        Refusal::Key(format!(
            "this API key {why}; MCP tools run only under a `use` key restricted to one entity \
                 (make one with `keyport keys create --name NAME --entity ENTITY`)"
        ))
    })
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether the client takes `wanted` (a missing `Accept` takes anything).
fn accepts(req: &HttpRequest, wanted: &str) -> bool {
    header(req, header::ACCEPT.as_str()).is_none_or(|accept| {
        accept.split(',').any(|range| {
            let range = range.split(';').next().unwrap_or_default().trim();
            range == "*/*" || range.eq_ignore_ascii_case(wanted)
        })
    })
}

/// The session a request names, after the protocol checks: the revision in
/// `MCP-Protocol-Version`, if sent, must be one keyport speaks; the session must be open
/// and this key's.
fn session<'a>(
    req: &'a HttpRequest,
    sessions: &Sessions,
    caller: &Caller,
) -> Result<&'a str, Refusal> {
    let known = mcp::supported_versions();
    if let Some(version) = header(req, VERSION)
        && !known.iter().any(|v| v.as_str() == version)
    {
        let supported: Vec<&str> = known.iter().map(|v| v.as_str()).collect();
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_REQUEST,
            format!(
                "unsupported MCP-Protocol-Version {version:?}; keyport speaks {}",
                supported.join(", ")
            ),
        ));
    }
    let Some(id) = header(req, SESSION) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_REQUEST,
            "no Mcp-Session-Id: send initialize first, then its session id with every request",
        ));
    };
    match sessions.find(id, &caller.key_id) {
        Some(_) => Ok(id),
        None => Err(refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::INVALID_REQUEST,
            "no such session (it ended or was never this key's): initialize a new one",
        )),
    }
}

/// The revision a session runs at: the client's when keyport speaks it, else keyport's
/// newest (the client then decides whether it can go on).
fn negotiate(requested: &ProtocolVersion) -> ProtocolVersion {
    let supported = mcp::supported_versions();
    if supported.contains(requested) {
        requested.clone()
    } else {
        ProtocolVersion::LATEST_WITH_INITIALIZE
    }
}

fn answer(message: &ServerJsonRpcMessage) -> HttpResponse {
    HttpResponse::Ok().json(message)
}

/// `POST /mcp`: one JSON-RPC message.
pub async fn post(
    req: HttpRequest,
    call: Call,
    upstream: web::Data<Upstream>,
    sessions: web::Data<Sessions>,
    payload: web::Payload,
) -> HttpResponse {
    match handle_post(&req, call, upstream, &sessions, payload).await {
        Ok(response) => response,
        Err(refused) => refused.response(),
    }
}

async fn handle_post(
    req: &HttpRequest,
    call: Call,
    upstream: web::Data<Upstream>,
    sessions: &Sessions,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let entity = client(&call)?;
    if !accepts(req, "application/json") {
        return Err(refuse(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::INVALID_REQUEST,
            "keyport answers with application/json: accept it",
        ));
    }
    let body = match payload.to_bytes_limited(MAX_MESSAGE).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            let message = format!("unreadable body: {e}");
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::PARSE_ERROR,
                message,
            ));
        }
        Err(_) => {
            let message = format!("a message is at most {MAX_MESSAGE} bytes");
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::INVALID_REQUEST,
                message,
            ));
        }
    };
    let (id, request) = match message::parse(&body)? {
        Message::Request(id, request) => (id, request),
        // Notifications (initialized, cancelled…) and answers to requests keyport never
        // sends: taken, nothing to say.
        Message::Note => {
            session(req, sessions, call.caller())?;
            return Ok(HttpResponse::Accepted().finish());
        }
    };
    if let Request::Initialize(init) = request {
        let mut info = mcp::server_info();
        info.protocol_version = negotiate(&init.protocol_version);
        let session = sessions.open(&call.caller().key_id, info.protocol_version.clone());
        let message = ServerJsonRpcMessage::response(ServerResult::InitializeResult(info), id);
        return Ok(HttpResponse::Ok()
            .insert_header((SESSION, session))
            .json(message));
    }
    session(req, sessions, call.caller())?;
    let calls = Calls::new(local::Local { call, upstream }, entity);
    let result = respond(&calls, request).await.map(|mut result| {
        // `resultType` is 2026-07-28's; every revision keyport speaks predates it.
        result.strip_result_type_for_legacy_peer();
        result
    });
    Ok(answer(&match result {
        Ok(result) => ServerJsonRpcMessage::response(result, id),
        Err(error) => JsonRpcMessage::Error(JsonRpcError::new(Some(id), error)),
    }))
}

/// The answer to one request within a session.
async fn respond(calls: &Calls<local::Local>, request: Request) -> Result<ServerResult, ErrorData> {
    match request {
        Request::Ping => Ok(ServerResult::empty(())),
        Request::ListTools => Ok(ServerResult::ListToolsResult(
            ListToolsResult::with_all_items(calls.tools().await?),
        )),
        Request::CallTool { name, arguments } => {
            let reply = calls.call(&name, arguments).await?;
            Ok(ServerResult::CallToolResult(mcp::result_of(reply)))
        }
        // A second initialize within a session changes nothing.
        Request::Initialize(_) => Err(ErrorData::invalid_request(
            "this session is initialized already; send initialize without a session to start another",
            None,
        )),
        Request::Other(method) => Err(Request::not_served(&method)),
    }
}

/// `GET /mcp`: the session's event stream.
pub async fn get(
    req: HttpRequest,
    call: Call,
    upstream: web::Data<Upstream>,
    sessions: web::Data<Sessions>,
) -> HttpResponse {
    let entity = match client(&call) {
        Ok(entity) => entity,
        Err(refused) => return refused.response(),
    };
    if !accepts(&req, "text/event-stream") {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::INVALID_REQUEST,
            "the event stream is text/event-stream: accept it",
        )
        .response();
    }
    let id = match session(&req, &sessions, call.caller()) {
        Ok(id) => id.to_string(),
        Err(refused) => return refused.response(),
    };
    let events = stream::Events::new(Calls::new(local::Local { call, upstream }, entity));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(events.run(sessions.into_inner(), id))
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(req: HttpRequest, call: Call, sessions: web::Data<Sessions>) -> HttpResponse {
    let id = match client(&call).and_then(|_| session(&req, &sessions, call.caller())) {
        Ok(id) => id,
        Err(refused) => return refused.response(),
    };
    sessions.close(id, &call.caller().key_id);
    HttpResponse::NoContent().finish()
}
