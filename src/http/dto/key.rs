//! keyport's own resources beside Composio's: API keys, entities, the key check the SDK
//! calls `client_info`, and the health probe.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire_enum;
use crate::service::{self, ApiKey, Caller, CreatedKey, EntityId, EntitySummary};

wire_enum!(
    /// What a key may do: `use` acts through keyport (proxy, actions, MCP tools, connection
    /// metadata, connect links); `manage` also changes its entity's connections; `reveal`
    /// also reads live credentials; `admin` does everything.
    PermissionName(service::Permission),
    "Permission"
);

wire_enum!(
    /// An HTTP method a restricted key may send through the proxy.
    MethodName(service::ProxyMethod),
    "ProxyMethod"
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
    /// When the key stops working (then it answers 401); null: never.
    #[schema(required)]
    pub expires_at: Option<String>,
    /// The apps the key may act on; null: any.
    #[schema(required)]
    pub allowed_apps: Option<Vec<String>>,
    /// The named actions the key may run; null: any.
    #[schema(required)]
    pub allowed_actions: Option<Vec<String>>,
    /// The methods the key may send through the proxy; null: any.
    #[schema(required)]
    pub allowed_methods: Option<Vec<MethodName>>,
    /// `writes` when the key's writes wait for the user's approval.
    pub approval: ApprovalName,
    pub created_at: String,
    #[schema(required)]
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyDto {
    fn from(key: &ApiKey) -> Self {
        let r = &key.restrictions;
        ApiKeyDto {
            id: key.id.to_string(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            permission: PermissionName(key.permission),
            entity_id: key.entity.as_ref().map(EntityId::to_string),
            expires_at: r.expires_at.clone(),
            allowed_apps: r.apps.clone(),
            allowed_actions: r.actions.clone(),
            allowed_methods: r
                .methods
                .as_ref()
                .map(|m| m.iter().copied().map(MethodName).collect()),
            approval: ApprovalName(r.approval),
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
    /// The key stops working this many seconds from now (with `expiresAt` too, the earlier
    /// wins).
    // A number, so that `36.0` (an integer to JSON Schema) is read as 36.
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 316_224_000)]
    pub expires_in: Option<f64>,
    /// The key stops working at this instant, RFC 3339; one that has passed is refused
    /// (409).
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// App keys the key may act on (proxy, actions, tools, connect links); not for admin
    /// keys.
    #[schema(min_items = 1)]
    pub allowed_apps: Option<Vec<String>>,
    /// Named actions the key may run; without `allowedMethods` the key cannot use the raw
    /// proxy. Not for admin keys.
    #[schema(min_items = 1)]
    pub allowed_actions: Option<Vec<String>>,
    /// Methods the key may send through the proxy (`["GET", "HEAD"]`: read-only). Write
    /// actions need their own method here; read actions run under any. Not for admin keys.
    #[schema(min_items = 1, value_type = Option<Vec<MethodName>>)]
    pub allowed_methods: Option<Vec<String>>,
    /// `writes`: every request that is not a read waits for the user's approval
    /// (`keyport approvals`); default `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ApprovalName>)]
    pub approval: Option<String>,
}

/// `POST /api/v1/keys/revoke`: the panic button.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RevokeApiKeys)]
pub struct RevokeKeysBody {
    /// Must be `true`: revoke every key that is not an admin key.
    #[schema(schema_with = only_true)]
    pub all: bool,
}

/// `true`, the only value the panic button takes.
fn only_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// How many keys the panic button revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = RevokedApiKeys)]
pub struct RevokedKeysDto {
    pub revoked: u64,
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
    /// The key's restrictions, where it has them (as `POST /api/v1/keys` names them): what
    /// a client acting under it (`keyport mcp serve --key-file`) need not offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_apps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_methods: Option<Vec<MethodName>>,
}

impl KeyGrantDto {
    /// The restrictions the grant states (expiry and approval are the server's business).
    pub fn restrictions(&self) -> service::Restrictions {
        service::Restrictions {
            apps: self.allowed_apps.clone(),
            actions: self.allowed_actions.clone(),
            methods: self
                .allowed_methods
                .as_ref()
                .map(|m| m.iter().map(|m| m.0).collect()),
            ..service::Restrictions::default()
        }
    }
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
                allowed_apps: caller.restrictions.apps.clone(),
                allowed_actions: caller.restrictions.actions.clone(),
                allowed_methods: caller
                    .restrictions
                    .methods
                    .as_ref()
                    .map(|m| m.iter().copied().map(MethodName).collect()),
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
