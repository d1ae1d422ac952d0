//! Auth configs (keyport's integrations): the resource (`AuthConfigRetrieveResponse`, the
//! list's items), the create and update bodies and the create answer. An integration's
//! connection defaults are v3's `shared_credentials`; everything else it configures is
//! `credentials`, sealed values read as `********`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{FieldDto, ToolkitRef};
use crate::http::dto::{AuthSchemeName, redacted_config};
use crate::service::{CONNECTION_DEFAULTS, Error, IntegrationView};

/// Whether an auth config may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthConfigStatus {
    Enabled,
    Disabled,
}

/// Which tools an auth config allows: keyport restricts tools by API key, not here, so
/// both lists are always empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ToolAccessConfig {
    #[serde(default)]
    #[schema(max_items = 0)]
    pub tools_available_for_execution: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 0)]
    pub tools_for_connected_account_creation: Vec<String>,
}

/// An auth config as the v3 API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3AuthConfig)]
pub struct AuthConfigDto {
    /// `ac_…`; the v1 API's UUID (`uuid`) names the same auth config.
    pub id: String,
    #[schema(format = Uuid)]
    pub uuid: String,
    pub name: String,
    pub auth_scheme: AuthSchemeName,
    pub created_at: String,
    pub last_updated_at: String,
    /// The configuration (client id, scopes, URLs…); secret values read as `********`.
    pub credentials: Map<String, Value>,
    /// Connection fields every connected account inherits; secrets read as `********`.
    pub shared_credentials: Map<String, Value>,
    /// What a connected account supplies.
    pub expected_input_fields: Vec<FieldDto>,
    /// Always false: keyport has no managed OAuth apps.
    pub is_composio_managed: bool,
    pub is_enabled_for_tool_router: bool,
    /// ACTIVE connected accounts made through it.
    pub no_of_connections: u64,
    pub restrict_to_following_tools: Vec<String>,
    pub status: AuthConfigStatus,
    pub tool_access_config: ToolAccessConfig,
    pub toolkit: ToolkitRef,
    /// Always `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// keyport: the redirect URI to register with the provider (OAuth schemes only).
    #[schema(required)]
    pub callback_url: Option<String>,
}

impl AuthConfigDto {
    pub fn new(v: &IntegrationView, connections: u64) -> AuthConfigDto {
        let i = &v.integration;
        let mut credentials = redacted_config(i);
        let shared = match credentials.remove(CONNECTION_DEFAULTS) {
            Some(Value::Object(map)) => map,
            Some(sealed) => Map::from_iter([("*".to_string(), sealed)]),
            None => Map::new(),
        };
        AuthConfigDto {
            id: i.id.v3(),
            uuid: i.id.to_string(),
            name: i.name.clone(),
            auth_scheme: AuthSchemeName(i.auth_scheme),
            created_at: i.created_at.clone(),
            last_updated_at: i.updated_at.clone(),
            credentials,
            shared_credentials: shared,
            expected_input_fields: v.expected.iter().map(FieldDto::from).collect(),
            is_composio_managed: false,
            is_enabled_for_tool_router: false,
            no_of_connections: connections,
            restrict_to_following_tools: Vec::new(),
            status: match i.enabled {
                true => AuthConfigStatus::Enabled,
                false => AuthConfigStatus::Disabled,
            },
            tool_access_config: ToolAccessConfig::default(),
            toolkit: ToolkitRef::new(&i.app_key),
            kind: "custom".into(),
            callback_url: v.callback_url.clone(),
        }
    }
}

/// `GET /auth_configs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthConfigListQuery {
    /// Toolkit slugs, comma-separated.
    pub toolkit_slug: Option<String>,
    /// Part of the name or id.
    pub search: Option<String>,
    pub show_disabled: Option<bool>,
    /// `true` matches nothing: keyport manages no auth configs.
    pub is_composio_managed: Option<String>,
    #[param(schema_with = super::limit_param)]
    pub limit: Option<f64>,
    #[param(schema_with = crate::http::v3::cursor_param)]
    pub cursor: Option<String>,
}

/// `{"slug": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3ToolkitSlug)]
pub struct ToolkitSlug {
    pub slug: String,
}

/// Whose OAuth app an auth config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthConfigType {
    /// Refused for OAuth schemes, naming the credentials to supply instead.
    UseComposioManagedAuth,
    UseCustomAuth,
}

/// What keyport does not do per auth config, refused rather than ignored: the four fields
/// both auth config bodies end with (see `refusing_body!`).
pub trait Refusing {
    fn restrict_to_following_tools(&self) -> Option<&[String]>;
    fn tool_access_config(&self) -> Option<&ToolAccessConfig>;
    fn proxy_config(&self) -> Option<&Value>;
    fn is_enabled_for_tool_router(&self) -> Option<bool>;

    /// Refuses the body if any of the four asks for what keyport does not do.
    fn refuse_unsupported(&self) -> Result<(), Error> {
        let restricted = self
            .restrict_to_following_tools()
            .is_some_and(|r| !r.is_empty())
            || self.tool_access_config().is_some_and(|a| {
                !a.tools_available_for_execution.is_empty()
                    || !a.tools_for_connected_account_creation.is_empty()
            });
        if restricted {
            return Err(Error::invalid(
                "tool_access_config: keyport does not restrict tools per auth config; give the \
                 agent an API key restricted to its user instead",
            ));
        }
        if self.proxy_config().is_some_and(|p| !p.is_null()) {
            return Err(Error::invalid(
                "proxy_config: keyport calls the provider itself and takes no auth proxy",
            ));
        }
        if self.is_enabled_for_tool_router() == Some(true) {
            return Err(Error::invalid(
                "is_enabled_for_tool_router: keyport has no tool router",
            ));
        }
        Ok(())
    }
}

/// Declares an auth config body with its own fields followed by the four that keyport
/// refuses, and implements [`Refusing`] for it: the four are declared, documented and
/// checked in one place for the create options and the update body alike.
macro_rules! refusing_body {
    ($(#[$attr:meta])* pub struct $name:ident { $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$attr])*
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// Refused unless empty: keyport restricts tools by API key.
            #[schema(max_items = 0)]
            pub restrict_to_following_tools: Option<Vec<String>>,
            /// Refused unless its lists are empty.
            pub tool_access_config: Option<ToolAccessConfig>,
            /// Refused: keyport calls providers itself.
            #[schema(schema_with = super::refused)]
            pub proxy_config: Option<Value>,
            /// Refused when true: keyport has no tool router.
            #[schema(schema_with = never_true)]
            pub is_enabled_for_tool_router: Option<bool>,
        }

        impl Refusing for $name {
            fn restrict_to_following_tools(&self) -> Option<&[String]> {
                self.restrict_to_following_tools.as_deref()
            }
            fn tool_access_config(&self) -> Option<&ToolAccessConfig> {
                self.tool_access_config.as_ref()
            }
            fn proxy_config(&self) -> Option<&Value> {
                self.proxy_config.as_ref()
            }
            fn is_enabled_for_tool_router(&self) -> Option<bool> {
                self.is_enabled_for_tool_router
            }
        }
    };
}

// No `Debug` on the bodies below: `credentials` carries client secrets.
refusing_body! {
    /// The auth config part of a create body.
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    #[schema(as = V3AuthConfigOptions)]
    pub struct AuthConfigOptions {
        #[serde(rename = "type")]
        pub kind: AuthConfigType,
        /// Without it, the toolkit's default scheme.
        #[serde(alias = "authScheme")]
        #[schema(value_type = Option<AuthSchemeName>)]
        pub auth_scheme: Option<String>,
        /// The scheme's configuration fields (`client_id`, `client_secret`, `scopes`…).
        pub credentials: Option<Map<String, Value>>,
        pub name: Option<String>,
        /// Connection fields every connected account inherits (a shared token…).
        pub shared_credentials: Option<Map<String, Value>>,
    }
}

/// `POST /auth_configs`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = V3CreateAuthConfig)]
pub struct CreateAuthConfigBody {
    pub toolkit: ToolkitSlug,
    pub auth_config: Option<AuthConfigOptions>,
}

refusing_body! {
    /// `PATCH /auth_configs/{id}`: given credential keys replace, others are kept.
    #[derive(Serialize, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    #[schema(as = V3UpdateAuthConfig)]
    pub struct UpdateAuthConfigBody {
        /// `custom` or `default` (both update the same configuration).
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub credentials: Option<Map<String, Value>>,
        pub name: Option<String>,
        #[schema(value_type = Option<Object>)]
        pub scopes: Option<Value>,
        pub shared_credentials: Option<Map<String, Value>>,
    }
}

/// `false` or null: keyport has no tool router.
fn never_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::Boolean,
            utoipa::openapi::schema::Type::Null,
        ]))
        .enum_values(Some([Value::Bool(false), Value::Null]))
        .build()
}

/// The auth config part of the create answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3CreatedAuthConfigRef)]
pub struct CreatedAuthConfigRef {
    pub id: String,
    pub auth_scheme: AuthSchemeName,
    pub is_composio_managed: bool,
    pub restrict_to_following_tools: Vec<String>,
}

/// What `POST /auth_configs` answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3CreatedAuthConfig)]
pub struct CreatedAuthConfigDto {
    pub auth_config: CreatedAuthConfigRef,
    pub toolkit: ToolkitSlug,
}

impl From<&IntegrationView> for CreatedAuthConfigDto {
    fn from(v: &IntegrationView) -> Self {
        let i = &v.integration;
        CreatedAuthConfigDto {
            auth_config: CreatedAuthConfigRef {
                id: i.id.v3(),
                auth_scheme: AuthSchemeName(i.auth_scheme),
                is_composio_managed: false,
                restrict_to_following_tools: Vec::new(),
            },
            toolkit: ToolkitSlug {
                slug: i.app_key.clone(),
            },
        }
    }
}
