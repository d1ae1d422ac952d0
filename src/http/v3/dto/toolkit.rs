//! Toolkits (keyport's provider catalog): the list's items (`ToolkitListResponse`), one
//! toolkit with its auth config details (`ToolkitRetrieveResponse`) and the categories.
//! Every toolkit has the one version of keyport's built-in tools.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::FieldDto;
use crate::http::dto::AuthSchemeName;
use crate::service::{App, FieldSpec, SchemeDetails};

/// A category of the catalog: its lower-case name is its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Category)]
pub struct CategoryDto {
    pub id: String,
    pub name: String,
    /// The same as `id`.
    pub slug: String,
}

impl CategoryDto {
    pub fn new(name: &str) -> CategoryDto {
        let id = name.to_lowercase();
        CategoryDto {
            slug: id.clone(),
            id,
            name: name.to_string(),
        }
    }
}

/// A toolkit's metadata. keyport's catalog is built in and undated: the dates are empty,
/// and there are no logos or triggers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolkitMeta)]
pub struct ToolkitMeta {
    #[schema(required)]
    pub app_url: Option<String>,
    pub categories: Vec<CategoryDto>,
    pub created_at: String,
    pub updated_at: String,
    pub description: String,
    pub logo: String,
    pub tools_count: u64,
    pub triggers_count: u64,
    pub version: String,
    pub available_versions: Vec<String>,
}

/// `{"toolkitId": …}`: the catalog id the v1 API shows as `appId`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolkitDeprecated)]
pub struct ToolkitDeprecated {
    #[serde(rename = "toolkitId")]
    pub toolkit_id: String,
    #[serde(rename = "rawProxyInfoByAuthSchemes")]
    pub raw_proxy_info_by_auth_schemes: Vec<Value>,
}

/// A toolkit as the list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3Toolkit)]
pub struct ToolkitDto {
    pub slug: String,
    pub name: String,
    pub meta: ToolkitMeta,
    pub auth_schemes: Vec<AuthSchemeName>,
    /// Always empty: keyport manages no OAuth apps.
    pub composio_managed_auth_schemes: Vec<String>,
    pub deprecated: ToolkitDeprecated,
    pub is_local_toolkit: bool,
    pub no_auth: bool,
    /// Always `native`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl ToolkitDto {
    pub fn new(app: &App, tools: u64, version: &str) -> ToolkitDto {
        ToolkitDto {
            slug: app.key.clone(),
            name: app.name.clone(),
            meta: ToolkitMeta {
                app_url: app.docs.clone(),
                categories: app.categories.iter().map(|c| CategoryDto::new(c)).collect(),
                created_at: String::new(),
                updated_at: String::new(),
                description: app.description.clone(),
                logo: String::new(),
                tools_count: tools,
                triggers_count: 0,
                version: version.to_string(),
                available_versions: vec![version.to_string()],
            },
            auth_schemes: app.schemes.iter().map(|s| AuthSchemeName(s.mode)).collect(),
            composio_managed_auth_schemes: Vec::new(),
            deprecated: ToolkitDeprecated {
                toolkit_id: app.app_id().to_string(),
                raw_proxy_info_by_auth_schemes: Vec::new(),
            },
            is_local_toolkit: false,
            no_auth: app
                .schemes
                .iter()
                .any(|s| s.mode == crate::service::AuthScheme::NoAuth),
            kind: "native".into(),
        }
    }
}

/// Fields split as v3 lists them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3FieldGroup)]
pub struct FieldGroup {
    pub required: Vec<FieldDto>,
    pub optional: Vec<FieldDto>,
}

impl FieldGroup {
    fn new(fields: &[FieldSpec]) -> FieldGroup {
        let (required, optional): (Vec<&FieldSpec>, Vec<&FieldSpec>) =
            fields.iter().partition(|f| f.required);
        FieldGroup {
            required: required.into_iter().map(FieldDto::from).collect(),
            optional: optional.into_iter().map(FieldDto::from).collect(),
        }
    }
}

/// What an auth config of a scheme configures, and what its connections supply.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3SchemeFields)]
pub struct SchemeFields {
    pub auth_config_creation: FieldGroup,
    pub connected_account_initiation: FieldGroup,
}

/// `{"base_url": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ProxyBase)]
pub struct ProxyBase {
    pub base_url: String,
}

/// One auth scheme of a toolkit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3AuthConfigDetail)]
pub struct AuthConfigDetail {
    pub mode: AuthSchemeName,
    /// `<toolkit>_<mode>`, e.g. `github_oauth2`.
    pub name: String,
    pub fields: SchemeFields,
    pub proxy: ProxyBase,
    /// OAuth 2.0: the default scopes.
    pub required_scopes: Vec<String>,
}

/// One toolkit, with its schemes' fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = V3ToolkitDetail)]
pub struct ToolkitDetailDto {
    pub slug: String,
    pub name: String,
    pub meta: ToolkitMeta,
    pub auth_config_details: Vec<AuthConfigDetail>,
    pub base_url: String,
    pub composio_managed_auth: Vec<Value>,
    pub composio_managed_auth_schemes: Vec<String>,
    pub deprecated: ToolkitDeprecated,
    pub enabled: bool,
    /// The app's who-am-I URL (a template of its variables), from the catalog.
    pub get_current_user_endpoint: Option<String>,
    /// `GET` or `POST`.
    pub get_current_user_endpoint_method: Option<String>,
    pub is_local_toolkit: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

impl ToolkitDetailDto {
    pub fn new(app: &App, tools: u64, version: &str) -> ToolkitDetailDto {
        let listed = ToolkitDto::new(app, tools, version);
        let details = app
            .schemes
            .iter()
            .map(|spec| AuthConfigDetail {
                mode: AuthSchemeName(spec.mode),
                name: format!("{}_{}", app.key, spec.mode.as_str().to_ascii_lowercase()),
                fields: SchemeFields {
                    auth_config_creation: FieldGroup::new(&spec.integration_fields()),
                    connected_account_initiation: FieldGroup::new(&spec.connection_fields(app)),
                },
                proxy: ProxyBase {
                    base_url: spec.base_url().unwrap_or_default().to_string(),
                },
                required_scopes: match &spec.details {
                    SchemeDetails::OAuth2(o) => o.default_scopes.clone(),
                    _ => Vec::new(),
                },
            })
            .collect();
        ToolkitDetailDto {
            slug: listed.slug,
            name: listed.name,
            meta: listed.meta,
            auth_config_details: details,
            base_url: app.base_url.clone().unwrap_or_default(),
            composio_managed_auth: Vec::new(),
            composio_managed_auth_schemes: Vec::new(),
            deprecated: listed.deprecated,
            enabled: true,
            get_current_user_endpoint: app
                .whoami
                .as_ref()
                .and_then(|w| app.base_url.as_deref().map(|b| w.url(b))),
            get_current_user_endpoint_method: app.whoami.as_ref().map(|w| {
                match w.method {
                    crate::service::HttpMethod::Get => "GET",
                    crate::service::HttpMethod::Post => "POST",
                }
                .to_string()
            }),
            is_local_toolkit: false,
            kind: listed.kind,
        }
    }
}

/// `GET /toolkits`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ToolkitListQuery {
    /// A category's id or name.
    pub category: Option<String>,
    /// Part of the slug, name or description.
    pub search: Option<String>,
    #[param(schema_with = super::limit_param)]
    pub limit: Option<f64>,
    #[param(schema_with = crate::http::v3::cursor_param)]
    pub cursor: Option<String>,
    /// `alphabetically` or `usage` (keyport sorts by slug either way).
    pub sort_by: Option<String>,
    /// `all`, `composio` or `project`: keyport's catalog is all there is.
    pub managed_by: Option<String>,
    /// `all` or `native`: every toolkit is native; `custom` matches nothing.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub include_deprecated: Option<bool>,
}

/// `GET /toolkits/{slug}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SlugPath {
    /// A toolkit slug (any case).
    pub slug: String,
}
