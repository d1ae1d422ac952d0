//! The error body every failure answers with, `{"error":{"code","message"}}`, and the
//! error answers each operation documents: one table of statuses with their meaning, and
//! named sets of them that `#[utoipa::path]` lists beside an operation's 200.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: invalid_input, unauthorized, forbidden,
    /// restricted_app, restricted_action, restricted_method (a key's restriction), not_found,
    /// conflict, illegal_transition, method_not_allowed, payload_too_large,
    /// upstream_failed, upstream_timeout…
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The v3 API's error body: `{"error":{"message","code","slug","status"}}`, with the HTTP
/// status as `code` and `status` and keyport's stable code as `slug`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Error)]
pub struct V3ErrorBody {
    pub error: V3ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct V3ErrorDetail {
    /// What went wrong, for a person.
    pub message: String,
    /// The HTTP status.
    pub code: u16,
    /// keyport's stable machine-readable code (`not_found`, `invalid_input`…).
    pub slug: String,
    /// The HTTP status.
    pub status: u16,
}

impl V3ErrorBody {
    pub fn new(status: u16, slug: impl Into<String>, message: impl Into<String>) -> V3ErrorBody {
        V3ErrorBody {
            error: V3ErrorDetail {
                message: message.into(),
                code: status,
                slug: slug.into(),
                status,
            },
        }
    }
}

/// Every error status the API documents: its response component's name and what it means.
pub const ERROR_RESPONSES: [(u16, &str, &str); 9] = [
    (
        400,
        "BadRequest",
        "invalid_input: a malformed body, query or path, or a field that fails validation",
    ),
    (
        401,
        "Unauthorized",
        "unauthorized: no API key, or an unknown or revoked one",
    ),
    (
        403,
        "Forbidden",
        "forbidden: the key lacks the permission or is restricted to another entity",
    ),
    (
        404,
        "NotFound",
        "not_found: no such resource (or not the key's)",
    ),
    (
        409,
        "Conflict",
        "conflict / illegal_transition: the resource's state forbids it",
    ),
    (413, "TooLarge", "payload_too_large: a body over 256 KiB"),
    (
        422,
        "Unprocessable",
        "mcp_discovery_failed: the URL given is not an MCP server keyport can log in to (no \
         metadata, metadata for another issuer, no PKCE, a refused registration, or no answer)",
    ),
    (
        502,
        "BadGateway",
        "upstream_failed: the provider failed or refused",
    ),
    (
        504,
        "GatewayTimeout",
        "upstream_timeout: the provider did not answer in time",
    ),
];

/// The response components named in [`ERROR_RESPONSES`], each an [`ErrorBody`], and
/// their v3 twins (`V3BadRequest`…), each a [`V3ErrorBody`].
pub fn error_components() -> Vec<(String, RefOr<Response>)> {
    let mut all = Vec::new();
    for (prefix, schema) in [("", "Error"), ("V3", "V3Error")] {
        for (_, name, description) in ERROR_RESPONSES {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build();
            all.push((format!("{prefix}{name}"), RefOr::T(response)));
        }
    }
    all
}

/// `$ref`s to the error responses of `statuses`, in the envelope whose component names
/// start with `prefix` (`""` or `"V3"`).
pub fn error_refs(prefix: &str, statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    ERROR_RESPONSES
        .iter()
        .filter(|(status, _, _)| statuses.contains(status))
        .map(|(status, name, _)| {
            (
                status.to_string(),
                RefOr::Ref(Ref::from_response_name(format!("{prefix}{name}"))),
            )
        })
        .collect()
}

/// A named set of error statuses, listed in an operation's `responses(...)`; the `v3`
/// marker makes its v3-envelope twin.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal),+) => {
        error_set!(@one "" $(#[$doc])* $name: $($status),+);
    };
    ($(#[$doc:meta])* v3 $name:ident: $($status:literal),+) => {
        error_set!(@one "V3" $(#[$doc])* $name: $($status),+);
    };
    (@one $prefix:literal $(#[$doc:meta])* $name:ident: $($status:literal),+) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_refs($prefix, &[$($status),+])
            }
        }
    };
}

error_set!(
    /// Any API call: a bad request, a missing key, a key without the permission.
    Refusals: 400, 401, 403
);
error_set!(
    /// A read of a named resource.
    ReadErrors: 400, 401, 403, 404
);
error_set!(
    /// A state change of a named resource.
    ChangeErrors: 400, 401, 403, 404, 409
);
error_set!(
    /// A change with a request body.
    BodyErrors: 400, 401, 403, 404, 409, 413
);
error_set!(
    /// A read that may reach the provider (a refresh, a who-am-I check).
    UpstreamErrors: 400, 401, 403, 404, 409, 502, 504
);
error_set!(
    /// A request body that may reach the provider.
    SendErrors: 400, 401, 403, 404, 409, 413, 502, 504
);
error_set!(
    /// Adding a remote MCP server: its discovery may find the URL unusable.
    DiscoveryErrors: 400, 401, 403, 409, 413, 422
);
error_set!(
    /// v3: any call.
    v3 V3Refusals: 400, 401, 403
);
error_set!(
    /// v3: a read of a named resource.
    v3 V3ReadErrors: 400, 401, 403, 404
);
error_set!(
    /// v3: a state change of a named resource.
    v3 V3ChangeErrors: 400, 401, 403, 404, 409, 413
);
error_set!(
    /// v3: a request body that may reach the provider.
    v3 V3SendErrors: 400, 401, 403, 404, 409, 413, 502, 504
);
