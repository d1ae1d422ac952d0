//! A connection status event, as `GET /api/v1/events` streams it (the `data:` of each
//! server-sent event) and webhooks POST it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StatusName;
use crate::service::StatusEvent;

/// One connection status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusEventDto {
    /// Grows with every event, also across restarts; the stream's `id:` (resume with
    /// `Last-Event-ID`).
    pub id: u64,
    #[schema(format = Uuid)]
    pub connected_account_id: String,
    pub entity_id: String,
    #[schema(format = Uuid)]
    pub integration_id: String,
    /// The app's catalog key, lower-case.
    pub app_name: String,
    /// `null` for a connection that did not exist before.
    pub old_status: Option<StatusName>,
    pub new_status: StatusName,
    /// The status reason recorded with the change (why it FAILED or EXPIRED…), if any.
    pub reason: Option<String>,
    /// When the change was committed (RFC 3339, UTC).
    pub at: String,
}

impl From<&StatusEvent> for StatusEventDto {
    fn from(e: &StatusEvent) -> Self {
        StatusEventDto {
            id: e.id,
            connected_account_id: e.connection_id.to_string(),
            entity_id: e.entity_id.to_string(),
            integration_id: e.integration_id.to_string(),
            app_name: e.app_key.clone(),
            old_status: e.from.map(StatusName),
            new_status: StatusName(e.to),
            reason: e.reason.clone(),
            at: e.at.clone(),
        }
    }
}
