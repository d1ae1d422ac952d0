//! The second API surface: Composio's v3.1 API (served under `/api/v3.1/` and, for older
//! `composio` wheels, the same handlers under `/api/v3/`), spoken by the current SDKs
//! (`composio` on PyPI, `@composio/core` on npm). It is a projection of the one service,
//! like the v1/v2 handlers beside it: its own wire types (`dto/`, snake_case) and names —
//! an integration is an *auth config*, an entity a *user id*, an app a *toolkit*, an
//! action a *tool* — and no state or rule of its own. IDs are the same objects' ids in the
//! v3 spelling (`ac_…`, `ca_…`, see `crate::ids`); either spelling is accepted everywhere.
//!
//! What is v3's own lives here: the error envelope ([`V3Error`]), list queries that may
//! repeat a key or join values with commas ([`V3Query`]), and cursor pages ([`window`]).

mod auth_configs;
mod connected_accounts;
pub mod dto;
mod toolkits;
mod tools;

use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::{Ready, ready};
use serde::de::DeserializeOwned;

pub use auth_configs::*;
pub use connected_accounts::*;
pub use toolkits::*;
pub use tools::*;

use super::error::{ApiError, Envelope};
use crate::ids::{ConnectionId, IntegrationId};
use crate::service::Error;
use dto::V3Page;

/// A v3 handler's failure, answered in the v3 envelope.
#[derive(Debug)]
pub struct V3Error(pub ApiError);

impl std::fmt::Display for V3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<ApiError>> From<E> for V3Error {
    fn from(e: E) -> Self {
        V3Error(in_v3_words(e.into()))
    }
}

/// What was not found, in v3's names and id spelling (`auth config "ac_…"`, not
/// `integration "<uuid>"`); a malformed id is named as the caller sent it.
fn in_v3_words(error: ApiError) -> ApiError {
    let ApiError::Service(Error::NotFound { what, id }) = error else {
        return error;
    };
    let (what, id) = match what {
        "integration" => (
            "auth config",
            id.parse::<IntegrationId>().map_or(id, |i| i.v3()),
        ),
        "connected account" => (what, id.parse::<ConnectionId>().map_or(id, |c| c.v3())),
        "app" => ("toolkit", id),
        "action" => ("tool", id),
        other => (other, id),
    };
    ApiError::Service(Error::NotFound { what, id })
}

impl ResponseError for V3Error {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.respond(Envelope::V3)
    }
}

/// A v3 handler's answer.
pub type V3Reply<T> = Result<actix_web::web::Json<T>, V3Error>;

/// A query whose list parameters may come as `k=a,b`, `k=a&k=b` or `k[]=a&k[]=b` (the
/// Python SDK joins with commas, others repeat the key): every spelling is folded into
/// one comma-joined value before `T` is read.
pub struct V3Query<T>(pub T);

/// A v3 query string read as `T`, list parameters folded (see [`V3Query`]).
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, Error> {
    let mut folded: Vec<(String, String)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let key = key.strip_suffix("[]").unwrap_or(&key).to_string();
        match folded.iter_mut().find(|(k, _)| *k == key) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => folded.push((key, value.into_owned())),
        }
    }
    let text = serde_urlencoded::to_string(&folded)
        .map_err(|e| Error::invalid(format!("bad query string: {e}")))?;
    serde_urlencoded::from_str(&text).map_err(|e| Error::invalid(format!("bad query string: {e}")))
}

impl<T: DeserializeOwned> FromRequest for V3Query<T> {
    type Error = V3Error;
    type Future = Ready<Result<Self, V3Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(
            parse_query(req.query_string())
                .map(V3Query)
                .map_err(V3Error::from),
        )
    }
}

/// Items per page when a list names no `limit`; Composio's own bound is the maximum.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 1000;

/// A list request's page size and page (from 1): the cursor is an opaque token that
/// only keyport reads back, naming the page after the one that handed it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u64,
    pub page: u64,
}

impl Paging {
    pub fn new(limit: Option<f64>, cursor: Option<&str>) -> Result<Paging, Error> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if l.is_finite() && l >= 1.0 && l.fract() == 0.0 => (l as u64).min(MAX_LIMIT),
            Some(_) => return Err(Error::invalid("limit: a whole number from 1")),
        };
        let page = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => 1,
            Some(cursor) => decode_cursor(cursor)?,
        };
        Ok(Paging { limit, page })
    }

    /// The page's envelope for `total` matches.
    pub fn page<T>(&self, items: Vec<T>, total: u64) -> V3Page<T> {
        let total_pages = total.div_ceil(self.limit).max(1);
        V3Page {
            items,
            next_cursor: (self.page < total_pages).then(|| encode_cursor(self.page + 1)),
            total_pages,
            current_page: self.page,
            total_items: total,
        }
    }

    /// This page of a list held whole.
    pub fn window<T>(&self, all: Vec<T>) -> V3Page<T> {
        let total = all.len() as u64;
        let skip =
            usize::try_from((self.page - 1).saturating_mul(self.limit)).unwrap_or(usize::MAX);
        let take = usize::try_from(self.limit).unwrap_or(usize::MAX);
        self.page(all.into_iter().skip(skip).take(take).collect(), total)
    }
}

/// A cursor is the number of the page it names: opaque to the SDKs, which pass
/// `next_cursor` back unchanged, and a shape the OpenAPI document can state exactly.
fn encode_cursor(page: u64) -> String {
    page.to_string()
}

fn decode_cursor(cursor: &str) -> Result<u64, Error> {
    cursor
        .parse::<u64>()
        .ok()
        .filter(|page| *page >= 1)
        .ok_or_else(|| {
            Error::invalid(
                "cursor: not a cursor keyport handed out; pass next_cursor back unchanged",
            )
        })
}

/// The cursor parameter: a page number from 1, or empty for the first page.
pub fn cursor_param() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^([1-9][0-9]{0,9})?$"))
        .build()
}

/// A refusal of a v3 field keyport has no use for, naming it and why.
pub fn unsupported(field: &str, why: &str) -> V3Error {
    V3Error::from(Error::invalid(format!("{field}: {why}")))
}

/// Refuses a string field that is given and not empty.
pub fn refuse_text(field: &str, value: Option<&str>, why: &str) -> Result<(), V3Error> {
    match value.is_some_and(|t| !t.is_empty()) {
        true => Err(unsupported(field, why)),
        false => Ok(()),
    }
}

/// Refuses a JSON field that is given and not null.
pub fn refuse_json(
    field: &str,
    value: Option<&serde_json::Value>,
    why: &str,
) -> Result<(), V3Error> {
    match value.is_some_and(|v| !v.is_null()) {
        true => Err(unsupported(field, why)),
        false => Ok(()),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Q {
        user_ids: Option<String>,
        limit: Option<f64>,
    }

    #[test]
    fn list_parameters_fold_every_spelling() {
        for raw in [
            "user_ids=a,b&limit=5",
            "user_ids=a&user_ids=b&limit=5",
            "user_ids%5B%5D=a&user_ids%5B%5D=b&limit=5",
        ] {
            let q: Q = parse_query(raw).unwrap();
            assert_eq!(
                q,
                Q {
                    user_ids: Some("a,b".into()),
                    limit: Some(5.0)
                },
                "{raw}"
            );
        }
    }

    #[test]
    fn not_found_speaks_v3() {
        let id = IntegrationId::new();
        let V3Error(error) = V3Error::from(Error::not_found("integration", id.to_string()));
        assert_eq!(
            error.to_string(),
            format!("auth config {:?} not found", id.v3())
        );
        let V3Error(error) = V3Error::from(Error::not_found("app", "nope"));
        assert_eq!(error.to_string(), "toolkit \"nope\" not found");
    }

    #[test]
    fn cursors_walk_the_pages_and_foreign_ones_are_refused() {
        let first = Paging::new(Some(2.0), None).unwrap();
        let page = first.window(vec![1, 2, 3, 4, 5]);
        assert_eq!(
            (page.items.clone(), page.total_pages, page.total_items),
            (vec![1, 2], 3, 5)
        );
        let second = Paging::new(Some(2.0), page.next_cursor.as_deref()).unwrap();
        assert_eq!(second.page, 2);
        let last = Paging::new(Some(2.0), Some(&encode_cursor(3))).unwrap();
        let page = last.window(vec![1, 2, 3, 4, 5]);
        assert_eq!(page.items, vec![5]);
        assert!(page.next_cursor.is_none());
        for bad in ["nope", "0", "-1", "1.5"] {
            assert!(Paging::new(None, Some(bad)).is_err(), "{bad}");
        }
        assert!(Paging::new(Some(0.0), None).is_err());
        assert_eq!(Paging::new(Some(5000.0), None).unwrap().limit, MAX_LIMIT);
    }
}
