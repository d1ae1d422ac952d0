//! What each auth scheme asks for: the integration fields a developer configures and the
//! connection fields a customer supplies (Composio's `expected_from_customer` split).
//!
//! The lists are derived from the catalog entry rather than stored in it, so every app with
//! the same mode asks the same questions under the same names (`client_id`, `api_key`,
//! `token`, …) and the catalog only carries the defaults. The consumers of these names are
//! the auth layer and the Composio-compatible `expectedInputFields`.
//!
//! The words of each question (its name, label and description) are one table of constants
//! below; a question two schemes share (`authorization_url`, the redirect URLs) is one entry.
//! The code per scheme only says which questions it asks, and with which default.

use serde_json::{Value, json};

use super::catalog::{
    ApiKeySpec, App, BasicSpec, KeyLocation, OAuth1Spec, OAuth2Spec, SchemeDetails, SchemeSpec,
    SignatureMethod, TokenAuth, UrlTemplate,
};
use super::fields::{FieldKind, FieldSpec, template_variables};
use super::parse::scheme_urls;

/// A question's words: the name it is answered under, its label and what it is for.
#[derive(Clone, Copy)]
struct Words(&'static str, &'static str, &'static str);

/// One constant per question: `NAME = name, label, description;`.
macro_rules! words {
    ($($(#[$doc:meta])* $konst:ident = $name:literal, $display:literal, $description:literal;)+) => {
        $($(#[$doc])* const $konst: Words = Words($name, $display, $description);)+
    };
}

words! {
    BASE_URL = "base_url", "Base URL", "Root URL of the provider's API; may use the app's {variables}";
    REDIRECT_URLS = "allowed_redirect_urls", "Allowed redirect URLs", "Where the browser may be sent after connecting (the redirect_url of a connection request)";
    AUTHORIZATION_URL = "authorization_url", "Authorization URL", "Where the user is sent to grant access";
    // OAuth 2.0
    CLIENT_ID = "client_id", "Client ID", "OAuth client ID of your app at the provider";
    CLIENT_SECRET = "client_secret", "Client secret", "OAuth client secret of your app at the provider";
    /// The description is completed with the scope separator.
    SCOPES = "scopes", "Scopes", "Scopes to request, separated by";
    /// The description is completed with the separator and the parameter.
    USER_SCOPES = "user_scopes", "User scopes", "Scopes to request for the user (a user token), separated by";
    TOKEN_URL = "token_url", "Token URL", "Where codes and refresh tokens are exchanged for access tokens";
    REVOCATION_URL = "revocation_url", "Revocation URL", "RFC 7009 endpoint used when a connection is deleted";
    AUTHORIZATION_PARAMS = "authorization_params", "Authorization parameters", "Extra query parameters for the authorization request";
    TOKEN_PARAMS = "token_params", "Token parameters", "Extra form parameters for token requests";
    PKCE = "pkce", "PKCE", "Send an RFC 7636 code challenge";
    TOKEN_AUTH = "token_auth", "Token endpoint authentication", "How the client authenticates at the token URL";
    ISSUER = "issuer", "Issuer", "The authorization server's issuer identifier; when set, the callback must carry a matching `iss` (RFC 9207)";
    GRANT_TYPE = "grant_type", "Grant type", "authorization_code: each user authorizes in the browser; client_credentials: one machine token for the app itself";
    // OAuth 1.0a
    CONSUMER_KEY = "consumer_key", "Consumer key", "OAuth 1.0a consumer key of your app";
    CONSUMER_SECRET = "consumer_secret", "Consumer secret", "OAuth 1.0a consumer secret of your app (not used with RSA-SHA1)";
    PRIVATE_KEY = "private_key", "Private key", "RSA private key for RSA-SHA1 signing, PEM (PKCS#8 or PKCS#1); line breaks may be written as spaces or \\n";
    REQUEST_TOKEN_URL = "request_token_url", "Request token URL", "Where temporary credentials are requested";
    ACCESS_TOKEN_URL = "access_token_url", "Access token URL", "Where the verified request token is exchanged";
    SIGNATURE_METHOD = "signature_method", "Signature method", "How requests are signed";
    REDIRECT_PARAMS = "authorization_params", "Authorization parameters", "Extra query parameters for the authorization redirect";
    // Google service account, username and password for a JWT
    GSA_SCOPES = "scopes", "Scopes", "Scopes to request, separated by spaces";
    GSA_TOKEN_URL = "token_url", "Token URL", "Where the signed assertion is exchanged for an access token";
    JWT_TOKEN_URL = "token_url", "Token URL", "Where username and password are exchanged for a JWT";
    CREDENTIALS_JSON = "credentials_json", "Service account key", "The service account's JSON key (the downloaded key file), as an object or its JSON text";
    SUBJECT = "subject", "Subject", "Email of the user to act as (domain-wide delegation); leave out to act as the service account";
    // API key
    KEY_LOCATION = "in", "Key location", "Send the key in a header or in the query string";
    KEY_NAME = "name", "Key name", "Header or query-parameter name carrying the key";
    KEY_PREFIX = "prefix", "Key prefix", "Text put verbatim before the key (e.g. \"Bearer \")";
}

impl SchemeSpec {
    /// What a developer configures on an integration (`expected_from_customer = false`).
    pub fn integration_fields(&self) -> Vec<FieldSpec> {
        let base_url = match &self.app_base_url {
            Some(url) => setting(BASE_URL, FieldKind::String, Some(json!(url))),
            None => required(BASE_URL, false),
        };
        match &self.details {
            SchemeDetails::OAuth2(s) => oauth2_fields(s, base_url),
            SchemeDetails::OAuth1(s) => oauth1_fields(s, base_url),
            SchemeDetails::GoogleServiceAccount(s) => vec![
                setting(
                    GSA_SCOPES,
                    FieldKind::String,
                    (!s.default_scopes.is_empty()).then(|| json!(s.default_scopes.join(" "))),
                ),
                url_setting(GSA_TOKEN_URL, Some(&s.token_url)),
                base_url,
            ],
            SchemeDetails::BasicWithJwt(s) => {
                vec![url_setting(JWT_TOKEN_URL, Some(&s.token_url)), base_url]
            }
            SchemeDetails::ApiKey(s) => api_key_fields(s, base_url),
            SchemeDetails::Basic(_) | SchemeDetails::BearerToken {} | SchemeDetails::NoAuth {} => {
                vec![base_url]
            }
        }
    }

    /// What a connection supplies (`expected_from_customer = true`): the app's template
    /// variables first, then the scheme's credentials.
    pub fn connection_fields(&self, app: &App) -> Vec<FieldSpec> {
        let asked = self.asked_variables(app);
        let mut fields: Vec<FieldSpec> = app
            .variables
            .iter()
            .filter(|var| asked.contains(&var.name.as_str()))
            .map(|var| FieldSpec {
                default: var.default.as_ref().map(|d| json!(d)),
                ..customer(&var.name, &var.display_name, &var.description, false)
            })
            .collect();
        fields.extend(self.credential_fields(app));
        fields
    }

    /// The app's variables a connection of this scheme supplies: those its URLs and the
    /// app's headers use, less those the scheme fills itself (from the token response or a
    /// lookup). Jira asks a BASIC connection for its site, and an OAuth one for nothing.
    fn asked_variables<'a>(&self, app: &'a App) -> Vec<&'a str> {
        let mut templates: Vec<String> = scheme_urls(&self.details)
            .into_iter()
            .map(|(_, url)| url.to_string())
            .collect();
        if let Some(base) = self.base_url() {
            templates.push(base.to_string());
            if let Some(whoami) = &app.whoami {
                templates.push(whoami.url(base));
            }
        }
        templates.extend(self.lookups.iter().map(|l| l.url.as_str().to_string()));
        templates.extend(app.headers.values().cloned());
        let used: Vec<String> = templates
            .iter()
            .filter_map(|t| template_variables(t).ok())
            .flatten()
            .map(str::to_string)
            .collect();
        let filled = self.filled_variables();
        app.variables
            .iter()
            .map(|v| v.name.as_str())
            .filter(|name| used.iter().any(|u| u == name) && !filled.contains(name))
            .collect()
    }

    /// The credentials a connection of this scheme supplies.
    fn credential_fields(&self, app: &App) -> Vec<FieldSpec> {
        let secret = |name: &str, display: &str, description: &str| {
            customer(name, display, description, true)
        };
        let name = &app.name;
        match &self.details {
            SchemeDetails::ApiKey(s) => {
                let api_key = secret("api_key", "API key", &format!("Your {name} API key"));
                let extra = s.extra.iter().map(|extra| {
                    let (field, display) = (&extra.field, &extra.display_name);
                    customer(field, display, &extra.description, extra.secret)
                });
                std::iter::once(api_key).chain(extra).collect()
            }
            SchemeDetails::BearerToken {} => vec![secret(
                "token",
                "Token",
                &format!("A {name} access token, sent as a bearer token"),
            )],
            SchemeDetails::Basic(s) => basic_fields(s, name),
            SchemeDetails::BasicWithJwt(_) => vec![
                customer(
                    "username",
                    "Username",
                    &format!("Your {name} username"),
                    false,
                ),
                secret(
                    "password",
                    "Password",
                    &format!("Your {name} password or access token"),
                ),
            ],
            SchemeDetails::GoogleServiceAccount(_) => vec![
                FieldSpec {
                    kind: FieldKind::Object,
                    ..customer_words(CREDENTIALS_JSON, true)
                },
                FieldSpec {
                    required: false,
                    ..customer_words(SUBJECT, false)
                },
            ],
            SchemeDetails::OAuth2(_) | SchemeDetails::OAuth1(_) | SchemeDetails::NoAuth {} => {
                Vec::new()
            }
        }
    }
}

fn oauth2_fields(s: &OAuth2Spec, base_url: FieldSpec) -> Vec<FieldSpec> {
    let scopes =
        (!s.default_scopes.is_empty()).then(|| json!(s.default_scopes.join(&s.scope_separator)));
    let mut fields = vec![
        required(CLIENT_ID, false),
        FieldSpec {
            required: s.token_auth != TokenAuth::None,
            ..required(CLIENT_SECRET, true)
        },
        FieldSpec {
            description: format!("{} {:?}", SCOPES.2, s.scope_separator),
            ..setting(SCOPES, FieldKind::String, scopes)
        },
        own_url(AUTHORIZATION_URL, s.authorization_url.as_ref()),
        own_url(TOKEN_URL, s.token_url.as_ref()),
        url_setting(REVOCATION_URL, s.revocation_url.as_ref()),
        setting(
            AUTHORIZATION_PARAMS,
            FieldKind::Object,
            Some(json!(s.authorization_params)),
        ),
        setting(TOKEN_PARAMS, FieldKind::Object, Some(json!(s.token_params))),
        setting(PKCE, FieldKind::Boolean, Some(json!(s.pkce))),
        choice(TOKEN_AUTH, &TokenAuth::ALL, TokenAuth::as_str, s.token_auth),
        setting(ISSUER, FieldKind::String, None),
        FieldSpec {
            choices: vec!["authorization_code".into(), "client_credentials".into()],
            ..setting(
                GRANT_TYPE,
                FieldKind::String,
                Some(json!("authorization_code")),
            )
        },
        base_url,
        setting(REDIRECT_URLS, FieldKind::Array, Some(json!([]))),
    ];
    if let Some(user) = &s.user_scopes {
        fields.insert(
            3,
            FieldSpec {
                description: format!(
                    "{} {:?}; sent as {}, and the connection then holds the user's token",
                    USER_SCOPES.2, s.scope_separator, user.param
                ),
                ..setting(USER_SCOPES, FieldKind::String, None)
            },
        );
    }
    fields
}

fn oauth1_fields(s: &OAuth1Spec, base_url: FieldSpec) -> Vec<FieldSpec> {
    let rsa = s.signature_method == SignatureMethod::RsaSha1;
    vec![
        required(CONSUMER_KEY, false),
        FieldSpec {
            required: !rsa,
            ..required(CONSUMER_SECRET, true)
        },
        FieldSpec {
            required: rsa,
            ..required(PRIVATE_KEY, true)
        },
        url_setting(REQUEST_TOKEN_URL, Some(&s.request_token_url)),
        url_setting(AUTHORIZATION_URL, Some(&s.authorization_url)),
        url_setting(ACCESS_TOKEN_URL, Some(&s.access_token_url)),
        choice(
            SIGNATURE_METHOD,
            &SignatureMethod::ALL,
            SignatureMethod::as_str,
            s.signature_method,
        ),
        setting(
            REDIRECT_PARAMS,
            FieldKind::Object,
            Some(json!(s.authorization_params)),
        ),
        base_url,
        setting(REDIRECT_URLS, FieldKind::Array, Some(json!([]))),
    ]
}

fn api_key_fields(s: &ApiKeySpec, base_url: FieldSpec) -> Vec<FieldSpec> {
    vec![
        base_url,
        choice(
            KEY_LOCATION,
            &KeyLocation::ALL,
            KeyLocation::as_str,
            s.location,
        ),
        setting(KEY_NAME, FieldKind::String, Some(json!(s.name))),
        setting(
            KEY_PREFIX,
            FieldKind::String,
            (!s.prefix.is_empty()).then(|| json!(s.prefix)),
        ),
    ]
}

/// HTTP Basic: the two halves under the provider's labels, with its defaults.
fn basic_fields(s: &BasicSpec, app_name: &str) -> Vec<FieldSpec> {
    let half = |name: &str, label: &str, default: &Option<String>, is_secret: bool| FieldSpec {
        default: default.as_ref().map(|d| json!(d)),
        ..customer(name, label, &format!("{label} for {app_name}"), is_secret)
    };
    vec![
        half("username", &s.username_label, &s.username_default, false),
        half("password", &s.password_label, &s.password_default, true),
    ]
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
fn required(Words(name, display, description): Words, is_secret: bool) -> FieldSpec {
    FieldSpec {
        is_secret,
        ..field(name, display, description, FieldKind::String)
    }
}

/// An optional integration setting with the catalog's default.
fn setting(words: Words, kind: FieldKind, default: Option<Value>) -> FieldSpec {
    let Words(name, display, description) = words;
    FieldSpec {
        required: false,
        default,
        ..field(name, display, description, kind)
    }
}

/// A URL the catalog gives, or, where it gives none, one the integration must.
fn own_url(words: Words, default: Option<&UrlTemplate>) -> FieldSpec {
    match default {
        Some(_) => url_setting(words, default),
        None => required(words, false),
    }
}

fn url_setting(words: Words, default: Option<&UrlTemplate>) -> FieldSpec {
    setting(words, FieldKind::String, default.map(|u| json!(u.as_str())))
}

/// An optional string drawn from a closed set, defaulting to the catalog's choice.
fn choice<T: Copy>(
    words: Words,
    all: &[T],
    spelled: fn(T) -> &'static str,
    current: T,
) -> FieldSpec {
    FieldSpec {
        choices: all.iter().map(|&v| spelled(v).to_string()).collect(),
        ..setting(words, FieldKind::String, Some(json!(spelled(current))))
    }
}

/// A required connection value.
fn customer(name: &str, display: &str, description: &str, is_secret: bool) -> FieldSpec {
    FieldSpec {
        is_secret,
        expected_from_customer: true,
        ..field(name, display, description, FieldKind::String)
    }
}

fn customer_words(Words(name, display, description): Words, is_secret: bool) -> FieldSpec {
    customer(name, display, description, is_secret)
}
