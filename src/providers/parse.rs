//! The parser that turns a catalog file into checked [`App`]s.
//!
//! Catalog files are data (`assets/providers/catalog.json`, plus user files), so everything
//! is checked when a file is read rather than when a connection first fails: every URL must
//! be https (plain http only to a loopback host, and only in user files), every `{variable}`
//! a URL uses must be declared and every declared one used, each app lists each auth mode at
//! most once, and the derived field lists have unique names. A file is all or nothing, and an
//! error names the file, the app and the field, so a typo is found without a debugger.
//! Entries are parsed one by one (and schemes one by one) from a `Value`, which is what lets
//! a serde error name the entry it happened in.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::CatalogError;
use super::catalog::{
    App, Endpoint, HttpMethod, Lookup, SchemeDetails, SchemeSpec, UrlTemplate, ValueSource,
    Variable,
};
use super::fields::{check_variable_value, template_variables};

/// Where a catalog file comes from; user files may point at loopback over plain http.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    Builtin,
    User,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    apps: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    key: String,
    name: String,
    description: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    docs: Option<String>,
    #[serde(default)]
    register_url: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    base_url: Option<UrlTemplate>,
    #[serde(default)]
    whoami: Option<Endpoint>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    variables: Vec<Variable>,
    #[serde(default)]
    extra_hosts: Vec<String>,
    auth_schemes: Vec<Value>,
}

/// What every scheme may carry besides its mode's details.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCommon {
    #[serde(default)]
    base_url: Option<UrlTemplate>,
    #[serde(default)]
    lookups: Vec<Lookup>,
}

/// The keys of [`RawCommon`], taken off a scheme before its details are parsed.
const COMMON_KEYS: [&str; 2] = ["base_url", "lookups"];

/// The variable a header value may name besides the app's: the integration's client id.
pub(super) const HEADER_CLIENT_ID: &str = "client_id";

/// Parse and check one catalog file. All or nothing: one bad entry rejects the file.
pub(super) fn parse_file(file: &str, text: &str, origin: Origin) -> Result<Vec<App>, CatalogError> {
    let raw: RawFile = serde_json::from_str(text).map_err(|source| CatalogError::Syntax {
        file: file.to_string(),
        source,
    })?;
    let mut seen = BTreeSet::new();
    let mut apps = Vec::with_capacity(raw.apps.len());
    for (index, value) in raw.apps.into_iter().enumerate() {
        let label = match value.get("key").and_then(Value::as_str) {
            Some(key) => format!("{key:?}"),
            None => format!("#{index}"),
        };
        let invalid = |field: &str, reason: String| CatalogError::Invalid {
            file: file.to_string(),
            app: label.clone(),
            field: field.to_string(),
            reason,
        };
        let app = parse_app(value, origin).map_err(|(field, reason)| invalid(&field, reason))?;
        if !seen.insert(app.key.clone()) {
            return Err(invalid("key", "appears twice in this file".to_string()));
        }
        apps.push(app);
    }
    Ok(apps)
}

/// A problem in one entry: the field's path and the reason.
pub(super) type EntryError = (String, String);

fn parse_app(value: Value, origin: Origin) -> Result<App, EntryError> {
    let raw: RawApp = deserialize(&value, "", &[])?;
    check_texts(&raw)?;
    let mut urls = UrlCheck {
        declared: check_variables(&raw.variables)?,
        used: BTreeSet::new(),
        origin,
    };
    for (field, url) in [("docs", &raw.docs), ("register_url", &raw.register_url)] {
        if let Some(url) = url {
            urls.check(field, url)?;
        }
    }
    let base_url = raw.base_url.as_ref().map(UrlTemplate::as_str);
    if let Some(base_url) = base_url {
        urls.check("base_url", base_url)?;
    }
    if let Some(whoami) = &raw.whoami {
        let base = base_url.ok_or_else(|| entry_error("whoami", "needs a base_url"))?;
        urls.check("whoami.path", &whoami.url(base))?;
        if whoami.body.is_some() && whoami.method != HttpMethod::Post {
            return Err(entry_error("whoami.body", "a body needs method POST"));
        }
    }
    check_headers(&raw.headers, &mut urls)?;
    check_extra_hosts(&raw.extra_hosts, base_url, &mut urls)?;
    let schemes = parse_schemes(raw.auth_schemes, base_url, &mut urls)?;
    if let Some(unused) = urls.declared.iter().find(|v| !urls.used.contains(*v)) {
        return Err((
            format!("variables.{unused}"),
            "is declared but no URL uses it".to_string(),
        ));
    }
    let app = App {
        key: raw.key,
        name: raw.name,
        description: raw.description,
        categories: raw.categories,
        docs: raw.docs,
        register_url: raw.register_url,
        notes: raw.notes,
        domains: raw.domains,
        base_url: raw.base_url.map(|u| u.0),
        whoami: raw.whoami,
        headers: raw.headers,
        extra_hosts: raw.extra_hosts,
        variables: raw.variables,
        schemes,
    };
    check_field_names(&app)?;
    if origin == Origin::Builtin {
        super::domains::check_builtin(&app)?;
    }
    Ok(app)
}

/// Header values: no credential names, and only `{client_id}` or declared variables.
fn check_headers(
    headers: &BTreeMap<String, String>,
    urls: &mut UrlCheck,
) -> Result<(), EntryError> {
    for (name, value) in headers {
        let at = format!("headers.{name}");
        check_header(name, value).map_err(|reason| (at.clone(), reason.to_string()))?;
        for var in template_variables(value).map_err(|e| (at.clone(), e.reason))? {
            if var != HEADER_CLIENT_ID && !urls.declared.contains(var) {
                return Err((
                    at,
                    format!("uses {{{var}}}, which is not declared in variables"),
                ));
            }
            urls.used.insert(var.to_string());
        }
    }
    Ok(())
}

/// Extra hosts: plain host names (with an optional port), checked as the entry's URLs are.
fn check_extra_hosts(
    hosts: &[String],
    base_url: Option<&str>,
    urls: &mut UrlCheck,
) -> Result<(), EntryError> {
    for (i, host) in hosts.iter().enumerate() {
        let at = format!("extra_hosts[{i}]");
        let plain = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !plain {
            return Err((at, "must be a host name, optionally with :port".into()));
        }
        let scheme = match base_url {
            Some(b) if b.starts_with("http://") => "http",
            _ => "https",
        };
        urls.check(&at, &format!("{scheme}://{host}/"))?;
    }
    Ok(())
}

pub(super) fn entry_error(field: &str, reason: &str) -> EntryError {
    (field.to_string(), reason.to_string())
}

/// `a-z`, `0-9` and `_`, at least one character.
pub(super) fn snake_case(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The key, the name and description, the categories.
fn check_texts(raw: &RawApp) -> Result<(), EntryError> {
    if !snake_case(&raw.key) || raw.key.len() > 64 {
        return Err(entry_error(
            "key",
            "must be 1-64 characters of a-z, 0-9 and '_'",
        ));
    }
    let notes = raw.notes.as_ref().map(|n| ("notes", n));
    for (field, text) in [("name", &raw.name), ("description", &raw.description)]
        .into_iter()
        .chain(notes)
    {
        if text.trim().is_empty() || text.trim() != text || text.chars().any(char::is_control) {
            return Err(entry_error(
                field,
                "must be non-empty text without surrounding whitespace",
            ));
        }
    }
    let category_ok = |c: &String| {
        !c.is_empty()
            && c.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if let Some(i) = raw.categories.iter().position(|c| !category_ok(c)) {
        return Err(entry_error(
            &format!("categories[{i}]"),
            "must be lower-case words joined by '-'",
        ));
    }
    Ok(())
}

/// Checks an entry's URLs one by one, collecting the variables they use.
struct UrlCheck {
    declared: BTreeSet<String>,
    used: BTreeSet<String>,
    origin: Origin,
}

impl UrlCheck {
    fn check(&mut self, field: &str, url: &str) -> Result<(), EntryError> {
        let vars = check_url(url, &self.declared, self.origin)
            .map_err(|reason| (field.to_string(), reason))?;
        self.used.extend(vars);
        Ok(())
    }
}

/// The entry's schemes, each parsed on its own so an error names it; modes unique.
fn parse_schemes(
    raw: Vec<Value>,
    base_url: Option<&str>,
    urls: &mut UrlCheck,
) -> Result<Vec<SchemeSpec>, EntryError> {
    if raw.is_empty() {
        return Err(entry_error("auth_schemes", "must list at least one scheme"));
    }
    let mut schemes: Vec<SchemeSpec> = Vec::with_capacity(raw.len());
    for (i, value) in raw.into_iter().enumerate() {
        let mode = value
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let at = format!("auth_schemes[{i}] ({mode})");
        let (common, value) = split_common(value, &at)?;
        let details: SchemeDetails = deserialize(&value, &at, &["mode"])?;
        if schemes.iter().any(|s| s.mode == details.mode()) {
            return Err((at, "this mode is already listed for this app".to_string()));
        }
        for (field, url) in scheme_urls(&details) {
            urls.check(&format!("{at}.{field}"), url)?;
        }
        super::details::check_details(&details)
            .map_err(|(field, reason)| (format!("{at}.{field}"), reason))?;
        let own_base = common.base_url.as_ref().map(UrlTemplate::as_str);
        if let Some(own) = own_base {
            urls.check(&format!("{at}.base_url"), own)?;
        }
        let mut scheme = SchemeSpec {
            mode: details.mode(),
            details,
            app_base_url: own_base.or(base_url).map(str::to_string),
            lookups: common.lookups,
        };
        check_filled(&mut scheme, &at, urls)?;
        schemes.push(scheme);
    }
    Ok(schemes)
}

/// A scheme's common keys taken off, parsed; the rest is the mode's details.
fn split_common(value: Value, at: &str) -> Result<(RawCommon, Value), EntryError> {
    let Value::Object(mut object) = value else {
        return Ok((RawCommon::default(), value));
    };
    let mut common = serde_json::Map::new();
    for key in COMMON_KEYS {
        if let Some(v) = object.remove(key) {
            common.insert(key.to_string(), v);
        }
    }
    let common = deserialize(&Value::Object(common), at, &[])?;
    Ok((common, Value::Object(object)))
}

/// Lookups' URLs and the names and paths of the variables a scheme fills itself; a filled
/// variable counts as used.
fn check_filled(scheme: &mut SchemeSpec, at: &str, urls: &mut UrlCheck) -> Result<(), EntryError> {
    let mut sources: Vec<(String, &ValueSource)> = Vec::new();
    for (i, lookup) in scheme.lookups.iter().enumerate() {
        urls.check(&format!("{at}.lookups[{i}].url"), lookup.url.as_str())?;
        if lookup.vars.is_empty() {
            return Err((
                format!("{at}.lookups[{i}].vars"),
                "must fill a variable".into(),
            ));
        }
        for (name, source) in &lookup.vars {
            sources.push((format!("{at}.lookups[{i}].vars.{name}"), source));
        }
    }
    if let SchemeDetails::OAuth2(o) = &scheme.details {
        for (name, source) in &o.token_response_vars {
            sources.push((format!("{at}.token_response_vars.{name}"), source));
        }
    }
    for (field, source) in sources {
        let name = field.rsplit('.').next().unwrap_or_default();
        if RESERVED_PARAMS.contains(&name) {
            return Err((field, "names a parameter keyport keeps itself".into()));
        }
        if !snake_case(name) || !super::catalog::valid_path(source.path()) {
            return Err((
                field,
                "needs a snake_case name and a path such as team.id or [0].id".into(),
            ));
        }
        urls.used.insert(name.to_string());
    }
    Ok(())
}

/// Connection parameters keyport writes itself, which no filled variable may replace.
const RESERVED_PARAMS: [&str; 9] = [
    "access_token",
    "refresh_token",
    "expires_at",
    "issued_at",
    "scope",
    "token_type",
    "refresh_token_expires_at",
    "account",
    "default",
];

/// The field lists derived from each scheme have unique names.
fn check_field_names(app: &App) -> Result<(), EntryError> {
    for scheme in &app.schemes {
        let at = format!("auth_schemes ({})", scheme.mode);
        let mut names = BTreeSet::new();
        for field in scheme
            .integration_fields()
            .iter()
            .chain(&scheme.connection_fields(app))
        {
            if !names.insert(field.name.clone()) {
                return Err((at, format!("two fields are named {:?}", field.name)));
            }
        }
    }
    Ok(())
}

/// Deserialize `value`, naming the offending field on failure. serde names unknown and
/// missing fields itself; for a value of the wrong type the culprit is the key whose removal
/// makes the error go away (or turn into "missing field" for that very key). That search runs
/// only on the error path. `skip` lists keys never to blame (an enum's tag).
fn deserialize<T: DeserializeOwned>(
    value: &Value,
    at: &str,
    skip: &[&str],
) -> Result<T, EntryError> {
    let error = match T::deserialize(value) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error.to_string(),
    };
    let named_by_serde = error.starts_with("unknown field") || error.starts_with("missing field");
    let culprit = value
        .as_object()
        .filter(|_| !named_by_serde)
        .and_then(|object| {
            object
                .keys()
                .filter(|k| !skip.contains(&k.as_str()))
                .find(|key| {
                    let mut without = object.clone();
                    without.remove(key.as_str());
                    match T::deserialize(&Value::Object(without)) {
                        Ok(_) => true,
                        Err(e) => e.to_string() == format!("missing field `{key}`"),
                    }
                })
        });
    let field = match (at, culprit) {
        ("", None) => "entry".to_string(),
        ("", Some(key)) => key.clone(),
        (at, None) => at.to_string(),
        (at, Some(key)) => format!("{at}.{key}"),
    };
    Err((field, error))
}

fn check_variables(variables: &[Variable]) -> Result<BTreeSet<String>, EntryError> {
    let mut declared = BTreeSet::new();
    for (i, var) in variables.iter().enumerate() {
        let at = format!("variables[{i}]");
        let name_ok =
            var.name.starts_with(|c: char| c.is_ascii_lowercase()) && snake_case(&var.name);
        if !name_ok {
            return Err((
                at,
                "name must be lower-case letters, digits or '_'".to_string(),
            ));
        }
        if var.display_name.trim().is_empty() || var.description.trim().is_empty() {
            return Err((at, "needs a display_name and a description".to_string()));
        }
        for (field, value) in [("default", &var.default), ("example", &var.example)] {
            if let Some(value) = value {
                check_variable_value(value)
                    .map_err(|r| (format!("{at}.{field}"), r.to_string()))?;
            }
        }
        if !declared.insert(var.name.clone()) {
            return Err((at, format!("{:?} is declared twice", var.name)));
        }
    }
    Ok(declared)
}

/// Every URL template a scheme carries, with its field name.
pub(super) fn scheme_urls(details: &SchemeDetails) -> Vec<(&'static str, &str)> {
    match details {
        SchemeDetails::OAuth2(s) => [
            ("authorization_url", &s.authorization_url),
            ("token_url", &s.token_url),
            ("revocation_url", &s.revocation_url),
        ]
        .into_iter()
        .filter_map(|(field, url)| Some((field, url.as_ref()?.as_str())))
        .collect(),
        SchemeDetails::OAuth1(s) => vec![
            ("request_token_url", s.request_token_url.as_str()),
            ("authorization_url", s.authorization_url.as_str()),
            ("access_token_url", s.access_token_url.as_str()),
        ],
        SchemeDetails::BasicWithJwt(s) => vec![("token_url", s.token_url.as_str())],
        SchemeDetails::GoogleServiceAccount(s) => vec![("token_url", s.token_url.as_str())],
        SchemeDetails::ApiKey(_)
        | SchemeDetails::Basic(_)
        | SchemeDetails::BearerToken {}
        | SchemeDetails::NoAuth {} => Vec::new(),
    }
}

/// Check a URL template; returns the variables it uses.
fn check_url(
    template: &str,
    declared: &BTreeSet<String>,
    origin: Origin,
) -> Result<Vec<String>, String> {
    let vars = template_variables(template).map_err(|e| e.reason)?;
    let mut dummy = serde_json::Map::new();
    for var in &vars {
        if !declared.contains(*var) {
            return Err(format!(
                "uses {{{var}}}, which is not declared in variables"
            ));
        }
        dummy.insert((*var).to_string(), Value::from("example"));
    }
    let rendered = super::fields::render_template(template, &dummy).map_err(|e| e.to_string())?;
    let url = Url::parse(&rendered).map_err(|e| format!("is not a valid URL: {e}"))?;
    let host = url.host().ok_or("has no host")?;
    let loopback = match host {
        url::Host::Domain(d) => d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback && origin == Origin::User => {}
        "http" if loopback => {
            return Err(
                "must use https (plain http is allowed only to loopback, in user files)".into(),
            );
        }
        _ => return Err("must use https (plain http only to a loopback host)".into()),
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("must not carry credentials or a fragment".into());
    }
    Ok(vars.into_iter().map(str::to_string).collect())
}

pub(super) fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        Err("is not a valid header name")
    } else if name.eq_ignore_ascii_case("authorization") {
        Err("Authorization comes from the auth scheme, not from default headers")
    } else if value.is_empty()
        || value.trim() != value
        || !value.chars().all(|c| c == ' ' || c.is_ascii_graphic())
    {
        Err("value must be non-empty printable ASCII without surrounding spaces")
    } else {
        Ok(())
    }
}
