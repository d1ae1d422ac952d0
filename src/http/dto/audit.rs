//! The audit log as the API shows it: records, their query, and the chain's verdict.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::service::{AuditPage, AuditRecord, AuditVerdict};

/// One audit record. Never a credential, a body or a query value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditRecord)]
pub struct AuditRecordDto {
    /// Its place in the chain (1, 2, …; pruned records leave the low numbers).
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// `proxy`, `action`, `credentials.read`, `connection.created`, `connection.status`,
    /// `connection.refreshed`, `connection.revoked`, `key.created`, `key.revoked`,
    /// `approval.asked`, `approval.answered`, `integration.changed`, `refused`.
    pub event: String,
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub entity_id: Option<String>,
    pub connection_id: Option<String>,
    pub app: Option<String>,
    /// The named action, for `action`.
    pub action: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    /// The path, without its query.
    pub path: Option<String>,
    /// `ok`, `refused`, `failed`, or a connection's new status.
    pub outcome: String,
    /// The provider's HTTP status, for `proxy` and `action`.
    pub status: Option<i64>,
    /// Why: an error's code and message, a status reason, which key.
    pub detail: Option<String>,
    pub latency_ms: Option<i64>,
}

impl From<&AuditRecord> for AuditRecordDto {
    fn from(r: &AuditRecord) -> Self {
        let e = r.entry.clone();
        AuditRecordDto {
            seq: r.seq,
            at: crate::clock::format_unix_ms(e.at_ms),
            event: e.event,
            key_id: e.key_id,
            key_name: e.key_name,
            entity_id: e.entity,
            connection_id: e.connection,
            app: e.app,
            action: e.action,
            method: e.method,
            host: e.host,
            path: e.path,
            outcome: e.outcome,
            status: e.status,
            detail: e.detail,
            latency_ms: e.latency_ms,
        }
    }
}

/// A page of records, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditPage)]
pub struct AuditPageDto {
    pub items: Vec<AuditRecordDto>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

impl From<&AuditPage> for AuditPageDto {
    fn from(page: &AuditPage) -> Self {
        AuditPageDto {
            items: page.records.iter().map(AuditRecordDto::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        }
    }
}

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    pub entity_id: Option<String>,
    pub connection_id: Option<String>,
    pub key_id: Option<String>,
    /// Records at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Records before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// The `nextCursor` of the page before.
    #[param(pattern = "^[0-9]*$")]
    pub cursor: Option<String>,
    /// Records per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Where the chain breaks, if it does.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditBreakDto {
    pub seq: i64,
    pub reason: String,
}

/// The verdict of a walk of the whole chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditVerdict)]
pub struct AuditVerdictDto {
    pub intact: bool,
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The first record that does not verify.
    pub broken: Option<AuditBreakDto>,
}

impl From<&AuditVerdict> for AuditVerdictDto {
    fn from(v: &AuditVerdict) -> Self {
        AuditVerdictDto {
            intact: v.intact(),
            records: v.records,
            first_seq: v.first_seq,
            last_seq: v.last_seq,
            broken: v.broken.as_ref().map(|b| AuditBreakDto {
                seq: b.seq,
                reason: b.reason.clone(),
            }),
        }
    }
}
