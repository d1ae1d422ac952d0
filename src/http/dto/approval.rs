//! Requests held for the user's approval, as the API lists them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::PendingRequest;

/// A request waiting for the user: who asks, for which connection, what it would send
/// (the body as a short summary, secrets masked). Never a credential.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PendingApproval)]
pub struct PendingApprovalDto {
    pub id: String,
    pub key_id: String,
    /// The name of the agent's key.
    pub key_name: String,
    pub entity_id: String,
    pub connection_id: String,
    pub app: String,
    /// The named action, when the request is one.
    pub action: Option<String>,
    pub method: String,
    pub host: String,
    /// The path, without its query.
    pub path: String,
    /// Its content type and first bytes, the connection's secrets masked.
    pub body: Option<String>,
    pub asked_at: String,
    /// When it is refused if nobody answers.
    pub expires_at: String,
}

impl From<&PendingRequest> for PendingApprovalDto {
    fn from(r: &PendingRequest) -> Self {
        PendingApprovalDto {
            id: r.id.clone(),
            key_id: r.key_id.clone(),
            key_name: r.key_name.clone(),
            entity_id: r.entity.clone(),
            connection_id: r.connection.clone(),
            app: r.app.clone(),
            action: r.action.clone(),
            method: r.method.clone(),
            host: r.host.clone(),
            path: r.path.clone(),
            body: r.body.clone(),
            asked_at: r.asked_at.clone(),
            expires_at: r.expires_at.clone(),
        }
    }
}

/// A link to the local approvals page: it lists what waits and answers with the authority
/// of the key that asked for it. Shown once; it works for an hour.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApprovalsPageLink)]
pub struct ApprovalsPageDto {
    pub url: String,
    pub expires_at: String,
}
