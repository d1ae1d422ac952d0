//! The provider catalog in Composio's `AppModel` shape (snake_case inside, as the SDK
//! parses it): each app with its auth schemes and their fields — what a developer
//! configures (`expected_from_customer: false`) and what a connection supplies (`true`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{AuthSchemeName, ExpectedFieldDto, Page};
use crate::service::{App, AuthScheme, SchemeDetails};

/// One auth scheme of an app (`AppAuthScheme`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AppAuthScheme)]
pub struct AppAuthSchemeDto {
    /// `<app>_<mode>`, e.g. `github_oauth2`.
    pub scheme_name: String,
    pub auth_mode: AuthSchemeName,
    /// The integration's fields, then the connection's.
    pub fields: Vec<ExpectedFieldDto>,
    /// OAuth: where the user authorizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// OAuth: the token (OAuth 1.0a: access-token) endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<String>>,
    /// OAuth 2.0: whether keyport sends a PKCE challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<bool>,
    /// OAuth 2.0: a machine token (client credentials grant), no user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_credentials: Option<bool>,
    /// OAuth 2.0: the RFC 7009 revocation endpoint, where the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    /// OAuth 2.0: what joins the scopes (`" "` or `","`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<String>,
    /// How to set this scheme up, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup_notes: Vec<String>,
}

impl AppAuthSchemeDto {
    fn new(app: &App, index: usize) -> Option<AppAuthSchemeDto> {
        let spec = app.schemes.get(index)?;
        let whoami = spec.whoami_url(app);
        let integration_fields = spec.integration_fields();
        let connection_fields = spec.connection_fields(app);
        let fields = ExpectedFieldDto::list(
            integration_fields.iter().chain(&connection_fields),
            whoami.as_deref(),
        );
        let mut dto = AppAuthSchemeDto {
            scheme_name: format!("{}_{}", app.key, spec.mode.as_str().to_ascii_lowercase()),
            auth_mode: AuthSchemeName(spec.mode),
            fields,
            authorization_url: None,
            token_url: None,
            default_scopes: None,
            pkce: None,
            client_credentials: None,
            revocation_url: None,
            scope_separator: None,
            setup_notes: spec.setup_notes(),
        };
        match &spec.details {
            SchemeDetails::OAuth2(o) => {
                dto.authorization_url = o.authorization_url.as_ref().map(|u| u.as_str().into());
                dto.token_url = o.token_url.as_ref().map(|u| u.as_str().into());
                dto.default_scopes = Some(o.default_scopes.clone());
                dto.pkce = Some(o.pkce);
                dto.client_credentials = Some(o.client_credentials);
                dto.revocation_url = o.revocation_url.as_ref().map(|u| u.as_str().to_string());
                dto.scope_separator = Some(o.scope_separator.clone());
            }
            SchemeDetails::OAuth1(o) => {
                dto.authorization_url = Some(o.authorization_url.as_str().to_string());
                dto.token_url = Some(o.access_token_url.as_str().to_string());
            }
            _ => {}
        }
        Some(dto)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AppMeta)]
pub struct AppMetaDto {
    pub base_url: String,
    /// Template variables a connection fills in (`subdomain`…).
    pub variables: Vec<String>,
}

/// One app as Composio's `AppModel`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = App)]
pub struct AppDto {
    pub name: String,
    /// The catalog key, lower-case.
    pub key: String,
    #[serde(rename = "appId")]
    #[schema(format = Uuid)]
    pub app_id: String,
    pub display_name: String,
    pub description: String,
    pub categories: Vec<String>,
    pub docs: Option<String>,
    /// Where to register an OAuth app with the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_url: Option<String>,
    /// The redirect (callback) URI to register with the provider for this keyport: set on
    /// apps with an OAuth scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Provider quirks worth knowing when setting the app up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub meta: AppMetaDto,
    pub auth_schemes: Vec<AppAuthSchemeDto>,
    /// Always empty: keyport has no Composio-managed OAuth apps.
    #[serde(rename = "testConnectors")]
    pub test_connectors: Vec<Value>,
    pub no_auth: bool,
    pub enabled: bool,
}

impl AppDto {
    /// `app` as the API shows it; `callback_url` is this keyport's redirect URI for it.
    pub fn new(app: &App, callback_url: String) -> Self {
        let oauth = app
            .schemes
            .iter()
            .any(|s| matches!(s.mode, AuthScheme::OAuth2 | AuthScheme::OAuth1));
        AppDto {
            name: app.key.clone(),
            key: app.key.clone(),
            app_id: app.app_id().to_string(),
            display_name: app.name.clone(),
            description: app.description.clone(),
            categories: app.categories.clone(),
            docs: app.docs.clone(),
            register_url: app.register_url.clone(),
            redirect_uri: oauth.then_some(callback_url),
            notes: app.notes.clone(),
            meta: AppMetaDto {
                base_url: app.base_url.clone().unwrap_or_default(),
                variables: app.variables.iter().map(|v| v.name.clone()).collect(),
            },
            auth_schemes: (0..app.schemes.len())
                .filter_map(|i| AppAuthSchemeDto::new(app, i))
                .collect(),
            test_connectors: Vec::new(),
            no_auth: app.schemes.iter().all(|s| s.mode == AuthScheme::NoAuth),
            enabled: true,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppListQuery {
    /// Only apps whose key, name or description contains this (any case).
    pub search: Option<String>,
    /// Only apps in this category (any case).
    pub category: Option<String>,
}

/// A trigger. keyport has none, so every list of them is empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = Trigger)]
pub struct TriggerDto {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, Value>,
}

pub type TriggerPage = Page<TriggerDto>;
