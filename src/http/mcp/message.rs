//! One JSON-RPC 2.0 message as `/mcp` reads it: parsed once into JSON, classified by the
//! members it has (a request has `method` and `id`, a notification `method` alone, a
//! response `result` or `error`), and a request dispatched by its method name straight to
//! the parameters that method takes (rmcp's types). Reading by name, rather than trying
//! each request type of the protocol in turn, keeps a tool call's envelope cheap and makes
//! a known method with bad parameters an Invalid Params error naming what is wrong.

use actix_web::http::StatusCode;
use rmcp::model::{ErrorCode, ErrorData, InitializeRequestParams, RequestId};
use serde_json::{Map, Value};

use super::{Refusal, refuse};

/// What a client asked for.
pub enum Request {
    Initialize(Box<InitializeRequestParams>),
    Ping,
    ListTools,
    CallTool {
        name: String,
        arguments: Value,
    },
    /// A method keyport does not serve: answered Method Not Found.
    Other(String),
}

/// One message.
pub enum Message {
    Request(RequestId, Request),
    /// A notification, or a response to a request keyport never sends: nothing to answer.
    Note,
}

fn invalid(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, ErrorCode::INVALID_REQUEST, message)
}

/// The body as one message, or the refusal to send.
pub fn parse(body: &[u8]) -> Result<Message, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let message = format!("not JSON: {e}");
        refuse(StatusCode::BAD_REQUEST, ErrorCode::PARSE_ERROR, message)
    })?;
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(invalid(
                "batches are not taken: send one JSON-RPC message per request",
            ));
        }
        _ => return Err(invalid("a JSON-RPC message is a JSON object")),
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(r#"not JSON-RPC 2.0: "jsonrpc" must be "2.0""#));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return Err(invalid("\"method\" must be a string")),
        None if object.contains_key("result") || object.contains_key("error") => {
            return Ok(Message::Note);
        }
        None => {
            return Err(invalid(
                "not a JSON-RPC message: no method, result or error",
            ));
        }
    };
    let Some(id) = object.remove("id") else {
        return Ok(Message::Note);
    };
    let id: RequestId =
        serde_json::from_value(id).map_err(|_| invalid("\"id\" must be a string or an integer"))?;
    let params = object.remove("params").unwrap_or(Value::Null);
    match request(&method, params) {
        Ok(request) => Ok(Message::Request(id, request)),
        Err(why) => Err(Refusal::Params(
            id,
            format!("invalid parameters for {method}: {why}"),
        )),
    }
}

/// The request `method` names, its parameters read.
fn request(method: &str, params: Value) -> Result<Request, String> {
    Ok(match method {
        "initialize" => Request::Initialize(Box::new(
            serde_json::from_value(params).map_err(|e| e.to_string())?,
        )),
        "ping" => Request::Ping,
        "tools/list" => Request::ListTools,
        "tools/call" => {
            let mut params = match params {
                Value::Object(params) => params,
                _ => return Err("expected an object with name and arguments".into()),
            };
            let name = match params.remove("name") {
                Some(Value::String(name)) => name,
                _ => return Err("name: a string is required".into()),
            };
            let arguments = match params.remove("arguments") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(arguments @ Value::Object(_)) => arguments,
                Some(_) => return Err("arguments: must be an object".into()),
            };
            Request::CallTool { name, arguments }
        }
        other => Request::Other(other.to_string()),
    })
}

impl Request {
    /// The error for a method keyport does not serve.
    pub fn not_served(method: &str) -> ErrorData {
        ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("{method} is not served: keyport offers tools only"),
            None,
        )
    }
}

#[cfg(test)]
#[expect(clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Message, Refusal> {
        parse(text.as_bytes())
    }

    #[test]
    fn messages_are_told_apart_by_their_members() {
        let call = r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"t","arguments":{"x":1}}}"#;
        match read(call) {
            Ok(Message::Request(id, Request::CallTool { name, arguments })) => {
                assert_eq!(id, RequestId::String("a".into()));
                assert_eq!((name.as_str(), arguments["x"].as_i64()), ("t", Some(1)));
            }
            _ => panic!("not a tool call"),
        }
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Note)
        ));
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
            Ok(Message::Note)
        ));
        assert!(matches!(
            read(r#"{"jsonrpc":"2.0","id":4,"method":"resources/list"}"#),
            Ok(Message::Request(_, Request::Other(m))) if m == "resources/list"
        ));
    }

    #[test]
    fn what_is_not_one_message_is_refused_and_bad_parameters_are_named() {
        for (text, code) in [
            ("{", ErrorCode::PARSE_ERROR),
            ("[]", ErrorCode::INVALID_REQUEST),
            ("7", ErrorCode::INVALID_REQUEST),
            (r#"{"id":1,"method":"ping"}"#, ErrorCode::INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1}"#, ErrorCode::INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
                ErrorCode::INVALID_REQUEST,
            ),
        ] {
            match read(text) {
                Err(Refusal::Protocol(status, got, _)) => {
                    assert_eq!((status, got), (StatusCode::BAD_REQUEST, code), "{text}");
                }
                _ => panic!("{text} was taken"),
            }
        }
        for (params, why) in [
            (r#"{"arguments":{}}"#, "name"),
            (r#"{"name":"t","arguments":[1]}"#, "arguments"),
            (r#"7"#, "object"),
        ] {
            let text =
                format!(r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{params}}}"#);
            match read(&text) {
                Err(Refusal::Params(id, message)) => {
                    assert_eq!(id, RequestId::Number(9));
                    assert!(message.contains(why), "{message}");
                }
                _ => panic!("{text} was taken"),
            }
        }
    }
}
