//! keyport's own resources beside Composio's: API keys, entities, the key check the SDK
//! calls `client_info`, and the health probe.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire_enum;
use crate::service::{self, ApiKey, Caller, CreatedKey, EntityId, EntitySummary};

wire_enum!(
    /// What a key may do: `use` acts through keyport, `reveal` also reads live
    /// credentials, `admin` also manages keys.
    PermissionName(service::Permission),
    "Permission"
);

wire_enum!(
    /// Whether a key's writes wait for the user: `none` or `writes`.
    ApprovalName(service::Approval),
    "Approval"
);

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyDto {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub permission: PermissionName,
    /// The one entity the key may act for, if restricted.
    #[schema(required)]
    pub entity_id: Option<String>,
    /// `writes` when the key's writes wait for the user's approval.
    pub approval: ApprovalName,
    pub created_at: String,
    #[schema(required)]
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyDto {
    fn from(key: &ApiKey) -> Self {
        ApiKeyDto {
            id: key.id.to_string(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            permission: PermissionName(key.permission),
            entity_id: key.entity.as_ref().map(EntityId::to_string),
            approval: ApprovalName(key.approval),
            created_at: key.created_at.clone(),
            revoked_at: key.revoked_at.clone(),
        }
    }
}

// No `Debug`: it holds the key.
/// A freshly minted key: the record and, this once, the key.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = CreatedApiKey)]
pub struct CreatedApiKeyDto {
    #[serde(flatten)]
    pub record: ApiKeyDto,
    /// The key itself, shown this once.
    pub key: String,
}

/// The one place the new key's value is exposed: into the answer that shows it once.
impl From<&CreatedKey> for CreatedApiKeyDto {
    fn from(created: &CreatedKey) -> Self {
        CreatedApiKeyDto {
            record: ApiKeyDto::from(&created.record),
            key: created.key.expose_secret().to_string(),
        }
    }
}

/// `POST /api/v1/keys`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateApiKey)]
pub struct CreateKeyBody {
    /// 1 to 64 printable characters, not only spaces.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Default `use`.
    #[schema(value_type = Option<PermissionName>)]
    pub permission: Option<String>,
    /// An entity id: up to 128 characters, no commas or control characters; blank means
    /// unrestricted.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f,]*$")]
    pub entity_id: Option<String>,
    /// `writes`: every request that is not a read waits for the user's approval
    /// (`keyport approvals`); default `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ApprovalName>)]
    pub approval: Option<String>,
}

/// An entity with its number of live connections.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Entity)]
pub struct EntityDto {
    pub id: String,
    pub created_at: String,
    pub connections: u64,
}

impl From<&EntitySummary> for EntityDto {
    fn from((id, created_at, connections): &EntitySummary) -> Self {
        EntityDto {
            id: id.to_string(),
            created_at: created_at.clone(),
            connections: *connections,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Client)]
pub struct ClientDto {
    /// The key's id.
    pub id: String,
    /// The key's name.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = KeyGrant)]
pub struct KeyGrantDto {
    pub permission: PermissionName,
    #[schema(required)]
    pub entity_id: Option<String>,
}

/// The Composio SDK's API-key check; only the status matters to it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ClientInfo)]
pub struct ClientInfoDto {
    pub client: ClientDto,
    pub api_key: KeyGrantDto,
}

impl From<&Caller> for ClientInfoDto {
    fn from(caller: &Caller) -> Self {
        ClientInfoDto {
            client: ClientDto {
                id: caller.key_id.to_string(),
                name: caller.name.clone(),
            },
            api_key: KeyGrantDto {
                permission: PermissionName(caller.permission),
                entity_id: caller.entity.as_ref().map(EntityId::to_string),
            },
        }
    }
}

/// `GET /healthz` (outside `/api/`, so no key is needed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthDto {
    pub status: String,
    pub service: String,
    pub version: String,
}
