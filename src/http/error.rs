//! The one place where errors become HTTP responses: `{"error":{"code":"…","message":"…"}}`.
//! The status is chosen by matching the service [`Error`] variant (and, for a joined
//! lower-layer error, its own variant) exhaustively, so a new variant cannot fall through
//! to a default: the compiler asks where it belongs. What the client reads is kept apart
//! from what is logged: an internal failure answers 500 with a generic message and its
//! detail goes only to the log. A 405 from the router is written here too, so every error
//! body has one writer.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use super::dto::{ErrorBody, V3ErrorBody};

use crate::service::error::{
    ActionError, AuthError, Error, NetError, OAuthError, ParseIdError, VaultError,
};

/// What a client is told in place of an internal failure's detail.
pub const INTERNAL_MESSAGE: &str = "internal error; see the keyport log";

#[derive(Debug)]
pub enum ApiError {
    /// A failure the service reported.
    Service(Error),
    /// The path is served, but not under this method (RFC 9110 §15.5.6); `allow` lists
    /// the methods it takes, as the `Allow` header says them.
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Service(e) => e.fmt(f),
            ApiError::MethodNotAllowed {
                method,
                path,
                allow,
            } => write!(f, "{method} {path} is not served; this path takes {allow}"),
        }
    }
}

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError::Service(e.into())
    }
}

/// The HTTP status of a service error.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::InvalidInput(_) | Error::Field(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) | Error::IllegalTransition(_) => StatusCode::CONFLICT,
        Error::Unauthorized => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::Restricted { .. } => StatusCode::FORBIDDEN,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        Error::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        Error::Internal(_) | Error::Store(_) | Error::Json(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Id(e) => match e {
            ParseIdError::NoSuch { .. } => StatusCode::NOT_FOUND,
            ParseIdError::Entity(_) => StatusCode::BAD_REQUEST,
        },
        Error::Vault(e) => match e {
            VaultError::WrongPassphrase => StatusCode::UNAUTHORIZED,
            VaultError::Corrupt(_)
            | VaultError::Open
            | VaultError::Kdf(_)
            | VaultError::Seal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::Action(e) => match e {
            ActionError::Input(_) => StatusCode::BAD_REQUEST,
            ActionError::Definition { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::Auth(e) => match e {
            AuthError::Field { .. } | AuthError::Config(_) => StatusCode::BAD_REQUEST,
            AuthError::Missing(_) | AuthError::Invalid(_) | AuthError::Rejected { .. } => {
                StatusCode::CONFLICT
            }
            AuthError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AuthError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            AuthError::OAuth(e) => oauth_status(e),
        },
        Error::OAuth(e) => oauth_status(e),
        Error::Net(e) => match e {
            NetError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            NetError::Connect(_) | NetError::TooLarge(_) | NetError::Other(_) => {
                StatusCode::BAD_GATEWAY
            }
        },
        // The URL the caller gave cannot be used: said as the caller's problem, with why.
        Error::Discovery(_) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn oauth_status(e: &OAuthError) -> StatusCode {
    match e {
        OAuthError::Config(_) => StatusCode::BAD_REQUEST,
        OAuthError::Refused { .. } | OAuthError::Network(_) | OAuthError::BadResponse(_) => {
            StatusCode::BAD_GATEWAY
        }
    }
}

/// The message a client reads. Internal failures say only where to look; their detail is
/// logged here. Vault failures are logged too, and their (secret-free) message is sent so
/// an operator can tell a moved ciphertext from a wrong passphrase.
fn client_message(error: &Error) -> String {
    match error {
        Error::Internal(_)
        | Error::Store(_)
        | Error::Json(_)
        | Error::Action(ActionError::Definition { .. }) => {
            tracing::error!(code = error.code(), detail = %error, "internal error");
            INTERNAL_MESSAGE.to_string()
        }
        Error::Vault(e) => {
            tracing::error!(code = e.code(), error = %e, "vault error");
            e.to_string()
        }
        other => other.to_string(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Service(e) => status_of(e),
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.respond(Envelope::V1)
    }
}

/// The two error envelopes: v1/v2's `{"error":{"code":"not_found","message"}}`, and the
/// v3 API's `{"error":{"message","code":404,"slug":"not_found","status":404}}`, which the
/// v3 SDKs read into their typed errors. The status and message are the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    V1,
    V3,
}

impl Envelope {
    /// The envelope of the surface `path` belongs to.
    pub fn of(path: &str) -> Envelope {
        if path.starts_with("/api/v3/") || path.starts_with("/api/v3.1/") {
            Envelope::V3
        } else {
            Envelope::V1
        }
    }
}

impl ApiError {
    /// What a client is told: the status, the stable code and the message (an internal
    /// failure's detail is logged here, not told).
    pub fn told(&self) -> (StatusCode, &'static str, String) {
        let (code, message) = match self {
            ApiError::Service(e) => (e.code(), client_message(e)),
            ApiError::MethodNotAllowed { .. } => ("method_not_allowed", self.to_string()),
        };
        (self.status_code(), code, message)
    }

    /// The response in `envelope`'s shape.
    pub fn respond(&self, envelope: Envelope) -> HttpResponse {
        let (status, code, message) = self.told();
        let mut response = HttpResponse::build(status);
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.clone()));
        }
        match envelope {
            Envelope::V1 => response.json(ErrorBody::new(code, message)),
            Envelope::V3 => response.json(V3ErrorBody::new(status.as_u16(), code, message)),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex, PoisonError};

    use actix_web::body::MessageBody;
    use serde_json::Value;

    use super::*;
    use crate::service::error::{FieldError, IllegalTransition, Restriction, StoreError};

    /// Status, code and JSON body of an error's response.
    fn respond(error: ApiError) -> (u16, HttpResponse, Value) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let (response, body) = response.into_parts();
        let bytes = body.try_into_bytes().ok().unwrap();
        let value = serde_json::from_slice(&bytes).unwrap();
        (status, response.set_body(()).map_into_boxed_body(), value)
    }

    fn restricted(restriction: Restriction) -> Error {
        Error::Restricted {
            restriction,
            message: "r".into(),
        }
    }

    /// Every error answered with a 4xx, grouped by the code and status it must get.
    fn client_error_cases() -> Vec<(&'static str, u16, Vec<Error>)> {
        let rejected = AuthError::Rejected {
            status: 401,
            reason: String::new(),
        };
        let transition = IllegalTransition {
            from: crate::domain::ConnectionStatus::Deleted,
            to: crate::domain::ConnectionStatus::Active,
        };
        let no_such = ParseIdError::NoSuch {
            what: "connected account",
            id: "x".into(),
        };
        vec![
            (
                "mcp_discovery_failed",
                422,
                vec![Error::from(
                    crate::auth::oauth2::discovery::DiscoveryError::for_test(),
                )],
            ),
            (
                "invalid_input",
                400,
                vec![
                    Error::invalid("bad"),
                    Error::from(FieldError::new("f", "bad")),
                    Error::from(ParseIdError::Entity("e")),
                    Error::from(ActionError::input("input.x: bad")),
                    Error::from(AuthError::field("private_key", "bad")),
                    Error::from(OAuthError::Config("c".into())),
                    Error::from(AuthError::Config("c".into())),
                ],
            ),
            ("unauthorized", 401, vec![Error::Unauthorized]),
            (
                "wrong_passphrase",
                401,
                vec![Error::from(VaultError::WrongPassphrase)],
            ),
            ("forbidden", 403, vec![Error::Forbidden("f".into())]),
            ("restricted_app", 403, vec![restricted(Restriction::Apps)]),
            (
                "restricted_action",
                403,
                vec![restricted(Restriction::Actions)],
            ),
            (
                "restricted_method",
                403,
                vec![restricted(Restriction::Methods)],
            ),
            (
                "not_found",
                404,
                vec![Error::not_found("integration", "x"), Error::from(no_such)],
            ),
            (
                "conflict",
                409,
                vec![
                    Error::Conflict("c".into()),
                    Error::from(AuthError::Missing("token".into())),
                    Error::from(AuthError::Invalid("i".into())),
                    Error::from(rejected),
                ],
            ),
            ("illegal_transition", 409, vec![Error::from(transition)]),
            (
                "payload_too_large",
                413,
                vec![Error::TooLarge("big".into())],
            ),
        ]
    }

    /// Every error answered with a 5xx, grouped by the code and status it must get.
    fn server_error_cases() -> Vec<(&'static str, u16, Vec<Error>)> {
        let refused = OAuthError::Refused {
            code: "invalid_grant".into(),
            description: None,
        };
        let unparsable = serde_json::from_str::<Value>("{").unwrap_err();
        vec![
            (
                "internal",
                500,
                vec![
                    Error::Internal("db".into()),
                    Error::from(StoreError::NoVault),
                    Error::from(unparsable),
                    Error::from(ActionError::definition("f", "A", "r")),
                ],
            ),
            ("seal_open_failed", 500, vec![Error::from(VaultError::Open)]),
            (
                "vault_corrupt",
                500,
                vec![Error::from(VaultError::Corrupt("c".into()))],
            ),
            (
                "kdf_failed",
                500,
                vec![Error::from(VaultError::Kdf("k".into()))],
            ),
            (
                "seal_failed",
                500,
                vec![Error::from(VaultError::Seal("s".into()))],
            ),
            (
                "upstream_failed",
                502,
                vec![
                    Error::Upstream("u".into()),
                    Error::from(AuthError::Upstream("u".into())),
                    Error::from(AuthError::OAuth(refused.clone())),
                    Error::from(refused),
                    Error::from(OAuthError::Network("n".into())),
                    Error::from(OAuthError::BadResponse("b".into())),
                    Error::from(NetError::Connect("c".into())),
                    Error::from(NetError::TooLarge(1)),
                    Error::from(NetError::Other("o".into())),
                ],
            ),
            (
                "upstream_timeout",
                504,
                vec![
                    Error::UpstreamTimeout,
                    Error::from(AuthError::Timeout),
                    Error::from(NetError::Timeout),
                ],
            ),
        ]
    }

    #[test]
    fn every_code_has_its_status() {
        let cases = client_error_cases().into_iter().chain(server_error_cases());
        for (code, status, errors) in cases {
            for err in errors {
                let shown = format!("{err:?}");
                let (got, _, body) = respond(ApiError::Service(err));
                assert_eq!(got, status, "{shown}");
                assert_eq!(body["error"]["code"], code, "{shown}");
                assert!(body["error"]["message"].is_string(), "{shown}");
            }
        }
    }

    /// A writer the test reads back: what the error writer logged.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let log = Log::default();
        let writer = log.clone();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish(),
        );
        let errors = [
            ApiError::Service(Error::Internal("secret detail".into())),
            ApiError::Service(Error::from(StoreError::TooNew {
                found: 424242,
                supported: 1,
            })),
        ];
        for error in errors {
            let (status, _, body) = tracing::dispatcher::with_default(&dispatch, || respond(error));
            assert_eq!(status, 500);
            assert_eq!(body["error"]["code"], "internal", "{body}");
            assert_eq!(body["error"]["message"], INTERNAL_MESSAGE, "{body}");
            let text = body.to_string();
            assert!(!text.contains("secret detail"), "{text}");
            assert!(!text.contains("424242"), "{text}");
        }
        let logged = String::from_utf8_lossy(&log.0.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned();
        assert!(logged.contains("secret detail"), "{logged}");
        assert!(logged.contains("424242"), "{logged}");
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let error = ApiError::MethodNotAllowed {
            method: "PUT".into(),
            path: "/api/v1/keys".into(),
            allow: "GET, POST".into(),
        };
        let (status, response, body) = respond(error);
        assert_eq!(status, 405);
        assert_eq!(
            response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok()),
            Some("GET, POST")
        );
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(
            body["error"]["message"],
            "PUT /api/v1/keys is not served; this path takes GET, POST"
        );
    }
}
