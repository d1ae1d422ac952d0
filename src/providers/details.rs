//! The checks of one scheme's details that serde cannot express: parameters the OAuth
//! client sets itself are not overridable, scopes hold no separator, an API key's placement
//! is a valid header or query name, and the quirk fields (user scopes, client-credentials
//! scopes) are well formed. Part of `parse`, split off to keep each file readable.

use std::collections::BTreeMap;

use super::catalog::{ApiKeySpec, KeyLocation, SchemeDetails};
use super::parse::{EntryError, check_header, entry_error, snake_case};

/// Parameters the OAuth client sets itself; a catalog entry may not override them.
const RESERVED_AUTHORIZATION_PARAMS: [&str; 7] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
];
const RESERVED_OAUTH1_PARAMS: [&str; 3] = ["oauth_token", "oauth_callback", "oauth_verifier"];
const RESERVED_TOKEN_PARAMS: [&str; 7] = [
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "refresh_token",
];

fn err(field: &str, reason: &str) -> Result<(), EntryError> {
    Err((field.to_string(), reason.to_string()))
}

/// Extra request parameters: none the client sets itself, each a name and a value.
fn check_params(
    field: &str,
    params: &BTreeMap<String, String>,
    reserved: &[&str],
) -> Result<(), EntryError> {
    for (k, v) in params {
        if reserved.contains(&k.as_str()) {
            return err(
                &format!("{field}.{k}"),
                "is set by the OAuth client and can't be overridden",
            );
        }
        if k.is_empty() || v.is_empty() || v.chars().any(char::is_control) {
            return err(
                &format!("{field}.{k}"),
                "must be a non-empty name and value",
            );
        }
    }
    Ok(())
}

fn check_scopes(field: &str, scopes: &[String], sep: &str) -> Result<(), EntryError> {
    match scopes
        .iter()
        .position(|s| s.is_empty() || s.contains(char::is_whitespace) || s.contains(sep))
    {
        Some(i) => err(
            &format!("{field}[{i}]"),
            "must be non-empty without spaces or the separator",
        ),
        None => Ok(()),
    }
}

pub(super) fn check_details(details: &SchemeDetails) -> Result<(), EntryError> {
    match details {
        SchemeDetails::OAuth2(s) => check_oauth2(s),
        SchemeDetails::OAuth1(s) => check_params(
            "authorization_params",
            &s.authorization_params,
            &RESERVED_OAUTH1_PARAMS,
        ),
        SchemeDetails::GoogleServiceAccount(s) => {
            check_scopes("default_scopes", &s.default_scopes, " ")
        }
        SchemeDetails::ApiKey(s) => check_api_key(s),
        SchemeDetails::Basic(s) => {
            if s.username_label.trim().is_empty() || s.password_label.trim().is_empty() {
                return err("username_label", "labels must not be empty");
            }
            Ok(())
        }
        SchemeDetails::BasicWithJwt(_)
        | SchemeDetails::BearerToken {}
        | SchemeDetails::NoAuth {} => Ok(()),
    }
}

fn check_oauth2(s: &super::catalog::OAuth2Spec) -> Result<(), EntryError> {
    if s.authorization_url.is_some() != s.token_url.is_some() {
        return err(
            "token_url",
            "give both authorization_url and token_url, or neither (an app whose \
             integrations each bring their own, as remote MCP servers do)",
        );
    }
    if s.scope_separator != " " && s.scope_separator != "," {
        return err("scope_separator", "must be \" \" or \",\"");
    }
    check_scopes("default_scopes", &s.default_scopes, &s.scope_separator)?;
    check_params(
        "authorization_params",
        &s.authorization_params,
        &RESERVED_AUTHORIZATION_PARAMS,
    )?;
    check_scopes(
        "client_credentials_scopes",
        &s.client_credentials_scopes,
        &s.scope_separator,
    )?;
    if let Some(user) = &s.user_scopes {
        let param_ok = !user.param.is_empty()
            && !RESERVED_AUTHORIZATION_PARAMS.contains(&user.param.as_str())
            && user
                .param
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !param_ok || !super::catalog::valid_path(&user.tokens_at) {
            return err(
                "user_scopes",
                "needs a parameter name of its own and a path (tokens_at)",
            );
        }
    }
    check_params("token_params", &s.token_params, &RESERVED_TOKEN_PARAMS)
}

/// The key's placement, and each extra value's field, words and placement.
fn check_api_key(s: &ApiKeySpec) -> Result<(), EntryError> {
    check_key_placement("name", s.location, &s.name)?;
    for (i, extra) in s.extra.iter().enumerate() {
        check_key_placement(&format!("extra[{i}].name"), extra.location, &extra.name)?;
        if !snake_case(&extra.field)
            || extra.display_name.trim().is_empty()
            || extra.description.trim().is_empty()
        {
            return Err(entry_error(
                &format!("extra[{i}]"),
                "needs a snake_case field, a display_name and a description",
            ));
        }
    }
    Ok(())
}

fn check_key_placement(field: &str, location: KeyLocation, name: &str) -> Result<(), EntryError> {
    let ok = match location {
        KeyLocation::Header => {
            check_header(name, "x").is_ok() || name.eq_ignore_ascii_case("authorization")
        }
        KeyLocation::Query => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        }
    };
    if ok {
        Ok(())
    } else {
        Err((
            field.to_string(),
            format!("is not a valid {} name", location.as_str()),
        ))
    }
}
