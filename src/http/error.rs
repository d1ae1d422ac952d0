//! The one place where service errors become HTTP responses:
//! `{"error":{"code":"…","message":"…"}}` with a status chosen from the stable code.
//! Internal detail is logged here and never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error::Error;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

pub fn status_for(code: &str) -> StatusCode {
    match code {
        "not_found" => StatusCode::NOT_FOUND,
        "invalid_input" => StatusCode::BAD_REQUEST,
        "conflict" | "illegal_transition" => StatusCode::CONFLICT,
        "unauthorized" | "wrong_passphrase" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "upstream_failed" => StatusCode::BAD_GATEWAY,
        "upstream_timeout" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_for(self.0.code())
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match &self.0 {
            Error::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                "internal error; see the keyport log".to_string()
            }
            Error::Vault(e) => {
                tracing::error!(error = %e, "vault error");
                e.to_string()
            }
            other => other.to_string(),
        };
        HttpResponse::build(status)
            .json(json!({"error": {"code": self.0.code(), "message": message}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        let cases = [
            (Error::not_found("integration", "x"), 404),
            (Error::invalid("bad"), 400),
            (Error::Conflict("c".into()), 409),
            (Error::Unauthorized, 401),
            (Error::Forbidden("f".into()), 403),
            (Error::TooLarge("big".into()), 413),
            (Error::Upstream("u".into()), 502),
            (Error::UpstreamTimeout, 504),
            (Error::Internal("db".into()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError(err).status_code().as_u16(), status);
        }
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let response = ApiError(Error::Internal("secret detail".into())).error_response();
        assert_eq!(response.status().as_u16(), 500);
    }
}
