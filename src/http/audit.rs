//! The audit log (admin keys): its records, filtered and paged, and a walk of its chain.

use actix_web::web;

use super::call::{Call, Reply};
use super::dto::{AuditPageDto, AuditQueryParams, AuditVerdictDto, Refusals};
use crate::clock::parse_unix_ms;
use crate::service::{AuditQuery, Error, Service};

/// Records of credential uses, lifecycle changes and key events, oldest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    operation_id = "listAuditRecords", params(AuditQueryParams),
    responses((status = 200, description = "A page of records", body = AuditPageDto), Refusals))]
pub async fn list(call: Call, query: web::Query<AuditQueryParams>) -> Reply<AuditPageDto> {
    let params = query.into_inner();
    // A blank filter or cursor is none, as elsewhere in the API; a time must be one.
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let time = |name: &str, value: Option<String>| -> Result<Option<i64>, Error> {
        value
            .map(|v| {
                parse_unix_ms(&v)
                    .ok_or_else(|| Error::invalid(format!("{name}: {v:?} is not an RFC 3339 time")))
            })
            .transpose()
    };
    let after = given(params.cursor)
        .map(|c| {
            c.trim()
                .parse::<i64>()
                .map_err(|_| Error::invalid(format!("cursor: {c:?} is not a cursor from this API")))
        })
        .transpose()?;
    let query = AuditQuery {
        entity: given(params.entity_id),
        connection: given(params.connection_id),
        key: given(params.key_id),
        since_ms: time("since", params.since)?,
        until_ms: time("until", params.until)?,
        after,
    };
    let limit = match params.limit.unwrap_or(100) {
        limit @ 1..=crate::service::MAX_AUDIT_PAGE => limit,
        _ => return Err(Error::invalid("limit: 1 to 1000").into()),
    };
    call.reply(move |svc, caller| svc.list_audit(caller, &query, limit))
        .await
}

/// Walks the whole chain and names the first record that does not verify.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    operation_id = "verifyAuditLog",
    responses((status = 200, description = "The verdict", body = AuditVerdictDto), Refusals))]
pub async fn verify(call: Call) -> Reply<AuditVerdictDto> {
    call.reply(Service::verify_audit).await
}
