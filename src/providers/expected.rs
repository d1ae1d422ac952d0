//! What each auth scheme asks for: the integration fields a developer configures and the
//! connection fields a customer supplies (Composio's `expected_from_customer` split).
//!
//! The lists are derived from the catalog entry rather than stored in it, so every app with
//! the same mode asks the same questions under the same names (`client_id`, `api_key`,
//! `token`, …) and the catalog only carries the defaults. The consumers of these names are
//! the auth layer and the Composio-compatible `expectedInputFields`.

use serde_json::{Value, json};

use super::catalog::{
    App, KeyLocation, SchemeDetails, SchemeSpec, SignatureMethod, TokenAuth, UrlTemplate,
};
use super::fields::{FieldKind, FieldSpec};

impl SchemeSpec {
    /// What a developer configures on an integration (`expected_from_customer = false`).
    pub fn integration_fields(&self) -> Vec<FieldSpec> {
        let base_url = setting(
            "base_url",
            "Base URL",
            "Root URL of the provider's API; may use the app's {variables}",
            FieldKind::String,
            Some(json!(self.app_base_url)),
        );
        match &self.details {
            SchemeDetails::OAuth2(s) => vec![
                required(
                    "client_id",
                    "Client ID",
                    "OAuth client ID of your app at the provider",
                    false,
                ),
                FieldSpec {
                    required: s.token_auth != TokenAuth::None,
                    ..required(
                        "client_secret",
                        "Client secret",
                        "OAuth client secret of your app at the provider",
                        true,
                    )
                },
                setting(
                    "scopes",
                    "Scopes",
                    &format!("Scopes to request, separated by {:?}", s.scope_separator),
                    FieldKind::String,
                    (!s.default_scopes.is_empty())
                        .then(|| json!(s.default_scopes.join(&s.scope_separator))),
                ),
                url_setting(
                    "authorization_url",
                    "Authorization URL",
                    "Where the user is sent to grant access",
                    Some(&s.authorization_url),
                ),
                url_setting(
                    "token_url",
                    "Token URL",
                    "Where codes and refresh tokens are exchanged for access tokens",
                    Some(&s.token_url),
                ),
                url_setting(
                    "revocation_url",
                    "Revocation URL",
                    "RFC 7009 endpoint used when a connection is deleted",
                    s.revocation_url.as_ref(),
                ),
                setting(
                    "authorization_params",
                    "Authorization parameters",
                    "Extra query parameters for the authorization request",
                    FieldKind::Object,
                    Some(json!(s.authorization_params)),
                ),
                setting(
                    "token_params",
                    "Token parameters",
                    "Extra form parameters for token requests",
                    FieldKind::Object,
                    Some(json!(s.token_params)),
                ),
                setting(
                    "pkce",
                    "PKCE",
                    "Send an RFC 7636 code challenge",
                    FieldKind::Boolean,
                    Some(json!(s.pkce)),
                ),
                FieldSpec {
                    choices: TokenAuth::ALL
                        .iter()
                        .map(|t| t.as_str().to_string())
                        .collect(),
                    ..setting(
                        "token_auth",
                        "Token endpoint authentication",
                        "How the client authenticates at the token URL",
                        FieldKind::String,
                        Some(json!(s.token_auth.as_str())),
                    )
                },
                setting(
                    "issuer",
                    "Issuer",
                    "The authorization server's issuer identifier; when set, the callback must carry a matching `iss` (RFC 9207)",
                    FieldKind::String,
                    None,
                ),
                FieldSpec {
                    choices: vec!["authorization_code".into(), "client_credentials".into()],
                    ..setting(
                        "grant_type",
                        "Grant type",
                        "authorization_code: each user authorizes in the browser; client_credentials: one machine token for the app itself",
                        FieldKind::String,
                        Some(json!("authorization_code")),
                    )
                },
                base_url,
                redirect_urls(),
            ],
            SchemeDetails::OAuth1(s) => vec![
                required(
                    "consumer_key",
                    "Consumer key",
                    "OAuth 1.0a consumer key of your app",
                    false,
                ),
                FieldSpec {
                    required: s.signature_method != SignatureMethod::RsaSha1,
                    ..required(
                        "consumer_secret",
                        "Consumer secret",
                        "OAuth 1.0a consumer secret of your app (not used with RSA-SHA1)",
                        true,
                    )
                },
                FieldSpec {
                    required: s.signature_method == SignatureMethod::RsaSha1,
                    ..required(
                        "private_key",
                        "Private key",
                        "RSA private key for RSA-SHA1 signing, PEM (PKCS#8 or PKCS#1); line breaks may be written as spaces or \\n",
                        true,
                    )
                },
                url_setting(
                    "request_token_url",
                    "Request token URL",
                    "Where temporary credentials are requested",
                    Some(&s.request_token_url),
                ),
                url_setting(
                    "authorization_url",
                    "Authorization URL",
                    "Where the user is sent to grant access",
                    Some(&s.authorization_url),
                ),
                url_setting(
                    "access_token_url",
                    "Access token URL",
                    "Where the verified request token is exchanged",
                    Some(&s.access_token_url),
                ),
                FieldSpec {
                    choices: SignatureMethod::ALL
                        .iter()
                        .map(|m| m.as_str().to_string())
                        .collect(),
                    ..setting(
                        "signature_method",
                        "Signature method",
                        "How requests are signed",
                        FieldKind::String,
                        Some(json!(s.signature_method.as_str())),
                    )
                },
                setting(
                    "authorization_params",
                    "Authorization parameters",
                    "Extra query parameters for the authorization redirect",
                    FieldKind::Object,
                    Some(json!(s.authorization_params)),
                ),
                base_url,
                redirect_urls(),
            ],
            SchemeDetails::GoogleServiceAccount(s) => vec![
                setting(
                    "scopes",
                    "Scopes",
                    "Scopes to request, separated by spaces",
                    FieldKind::String,
                    (!s.default_scopes.is_empty()).then(|| json!(s.default_scopes.join(" "))),
                ),
                url_setting(
                    "token_url",
                    "Token URL",
                    "Where the signed assertion is exchanged for an access token",
                    Some(&s.token_url),
                ),
                base_url,
            ],
            SchemeDetails::BasicWithJwt(s) => vec![
                url_setting(
                    "token_url",
                    "Token URL",
                    "Where username and password are exchanged for a JWT",
                    Some(&s.token_url),
                ),
                base_url,
            ],
            SchemeDetails::ApiKey(s) => vec![
                base_url,
                FieldSpec {
                    choices: KeyLocation::ALL
                        .iter()
                        .map(|l| l.as_str().to_string())
                        .collect(),
                    ..setting(
                        "in",
                        "Key location",
                        "Send the key in a header or in the query string",
                        FieldKind::String,
                        Some(json!(s.location.as_str())),
                    )
                },
                setting(
                    "name",
                    "Key name",
                    "Header or query-parameter name carrying the key",
                    FieldKind::String,
                    Some(json!(s.name)),
                ),
                setting(
                    "prefix",
                    "Key prefix",
                    "Text put verbatim before the key (e.g. \"Bearer \")",
                    FieldKind::String,
                    (!s.prefix.is_empty()).then(|| json!(s.prefix)),
                ),
            ],
            SchemeDetails::Basic(_) | SchemeDetails::BearerToken {} | SchemeDetails::NoAuth {} => {
                vec![base_url]
            }
        }
    }

    /// What a connection supplies (`expected_from_customer = true`): the app's template
    /// variables first, then the scheme's credentials.
    pub fn connection_fields(&self, app: &App) -> Vec<FieldSpec> {
        let mut fields: Vec<FieldSpec> = app
            .variables
            .iter()
            .map(|var| FieldSpec {
                default: var.default.as_ref().map(|d| json!(d)),
                ..customer(&var.name, &var.display_name, &var.description, false)
            })
            .collect();
        let secret = |name: &str, display: &str, description: &str| {
            customer(name, display, description, true)
        };
        match &self.details {
            SchemeDetails::ApiKey(s) => {
                fields.push(secret(
                    "api_key",
                    "API key",
                    &format!("Your {} API key", app.name),
                ));
                fields.extend(s.extra.iter().map(|extra| {
                    customer(
                        &extra.field,
                        &extra.display_name,
                        &extra.description,
                        extra.secret,
                    )
                }));
            }
            SchemeDetails::BearerToken {} => fields.push(secret(
                "token",
                "Token",
                &format!("A {} access token, sent as a bearer token", app.name),
            )),
            SchemeDetails::Basic(s) => {
                fields.push(FieldSpec {
                    default: s.username_default.as_ref().map(|d| json!(d)),
                    ..customer(
                        "username",
                        &s.username_label,
                        &format!("{} for {}", s.username_label, app.name),
                        false,
                    )
                });
                fields.push(FieldSpec {
                    default: s.password_default.as_ref().map(|d| json!(d)),
                    ..secret(
                        "password",
                        &s.password_label,
                        &format!("{} for {}", s.password_label, app.name),
                    )
                });
            }
            SchemeDetails::BasicWithJwt(_) => {
                fields.push(customer(
                    "username",
                    "Username",
                    &format!("Your {} username", app.name),
                    false,
                ));
                fields.push(secret(
                    "password",
                    "Password",
                    &format!("Your {} password or access token", app.name),
                ));
            }
            SchemeDetails::GoogleServiceAccount(_) => {
                fields.push(FieldSpec {
                    kind: FieldKind::Object,
                    ..secret(
                        "credentials_json",
                        "Service account key",
                        "The service account's JSON key (the downloaded key file), as an object or its JSON text",
                    )
                });
                fields.push(FieldSpec {
                    required: false,
                    ..customer(
                        "subject",
                        "Subject",
                        "Email of the user to act as (domain-wide delegation); leave out to act as the service account",
                        false,
                    )
                });
            }
            SchemeDetails::OAuth2(_) | SchemeDetails::OAuth1(_) | SchemeDetails::NoAuth {} => {}
        }
        fields
    }
}

fn field(name: &str, display: &str, description: &str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name: name.to_string(),
        display_name: display.to_string(),
        description: description.to_string(),
        kind,
        required: true,
        is_secret: false,
        expected_from_customer: false,
        default: None,
        choices: Vec::new(),
    }
}

/// A required integration string.
fn required(name: &str, display: &str, description: &str, is_secret: bool) -> FieldSpec {
    FieldSpec {
        is_secret,
        ..field(name, display, description, FieldKind::String)
    }
}

/// An optional integration setting with the catalog's default.
fn setting(
    name: &str,
    display: &str,
    description: &str,
    kind: FieldKind,
    default: Option<Value>,
) -> FieldSpec {
    FieldSpec {
        required: false,
        default,
        ..field(name, display, description, kind)
    }
}

fn url_setting(
    name: &str,
    display: &str,
    description: &str,
    default: Option<&UrlTemplate>,
) -> FieldSpec {
    setting(
        name,
        display,
        description,
        FieldKind::String,
        default.map(|u| json!(u.as_str())),
    )
}

fn redirect_urls() -> FieldSpec {
    setting(
        "allowed_redirect_urls",
        "Allowed redirect URLs",
        "Where the browser may be sent after connecting (the redirect_url of a connection request)",
        FieldKind::Array,
        Some(json!([])),
    )
}

/// A required connection value.
fn customer(name: &str, display: &str, description: &str, is_secret: bool) -> FieldSpec {
    FieldSpec {
        is_secret,
        expected_from_customer: true,
        ..field(name, display, description, FieldKind::String)
    }
}
