//! Finding a remote MCP server's authorization server and registering keyport there, as
//! the MCP authorization spec orders it: the server's `401` challenge (RFC 6750 §3) names
//! its protected resource metadata (RFC 9728), which names the authorization server, whose
//! metadata (RFC 8414, or OpenID Connect Discovery) says how to log in; keyport is then a
//! pre-registered client, a Client ID Metadata Document, or registers itself dynamically
//! (RFC 7591) as a native app with keyport's loopback redirect.
//!
//! Everything here fails closed with a sentence that names the step and the URL: no
//! metadata, metadata for another issuer, an authorization server without PKCE, a refused
//! registration. Every URL the documents hand out must be https, or plain http on a
//! loopback host when the MCP server itself is one (a local server under test): a remote
//! document cannot point keyport's requests anywhere else.

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::net::Net;
use crate::secret::{ClientSecret, Secret};

/// Why discovery or registration stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DiscoveryError(String);

impl DiscoveryError {
    #[cfg(test)]
    pub fn for_test() -> Self {
        DiscoveryError("no metadata".into())
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, DiscoveryError> {
    Err(DiscoveryError(message.into()))
}

/// The parameters of a `Bearer` challenge (`WWW-Authenticate`), as RFC 6750 §3 and RFC 9728
/// §5.1 spell them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Challenge {
    /// The `Bearer` challenge in a `WWW-Authenticate` value, if there is one.
    pub fn parse(header: &str) -> Option<Challenge> {
        let start = header.to_ascii_lowercase().find("bearer")?;
        let mut rest = &header[start + "bearer".len()..];
        let mut challenge = Challenge::default();
        loop {
            rest = rest.trim_start_matches([' ', ',', '\t']);
            let Some(eq) = rest.find('=') else { break };
            let name = rest[..eq].trim().to_ascii_lowercase();
            if name.contains(' ') {
                break; // the next scheme's name
            }
            let (value, after) = auth_param_value(&rest[eq + 1..]);
            match name.as_str() {
                "resource_metadata" => challenge.resource_metadata = Some(value),
                "scope" => challenge.scope = Some(value),
                "error" => challenge.error = Some(value),
                "error_description" => challenge.error_description = Some(value),
                _ => {}
            }
            rest = after;
        }
        Some(challenge)
    }

    /// A step-up challenge (RFC 6750 §3.1 `insufficient_scope`).
    pub fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// A token or a quoted string (with `\` escapes), and what follows it.
fn auth_param_value(text: &str) -> (String, &str) {
    let text = text.trim_start();
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find([',', ' ']).unwrap_or(text.len());
        return (text[..end].to_string(), &text[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            '"' => return (value, &quoted[i + 1..]),
            c => value.push(c),
        }
    }
    (value, "")
}

/// RFC 9728 protected resource metadata: what keyport needs of it.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// RFC 8414 authorization server metadata: what keyport needs of it.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

/// What discovery found for one MCP server.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The server's canonical URI: the `resource` of every authorization and token request.
    pub resource: String,
    /// The scopes to ask for: the resource's, and `offline_access` where the authorization
    /// server publishes it (a bridge needs a refresh token).
    pub scopes: Vec<String>,
    pub server: ServerMetadata,
}

/// Which URLs the documents may name: https anywhere, plain http only on loopback and only
/// when the MCP server itself is plain http on loopback.
#[derive(Debug, Clone, Copy)]
struct Reach {
    local: bool,
}

fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A literal address a remote document must not send keyport to: loopback, private,
/// link-local (cloud metadata services), unspecified, unique-local.
fn internal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl Reach {
    fn check(self, what: &str, text: &str) -> Result<Url, DiscoveryError> {
        let url = Url::parse(text).map_err(|e| DiscoveryError(format!("{what} {text:?}: {e}")))?;
        let ok = match url.scheme() {
            "https" => true,
            "http" => self.local && loopback(&url),
            _ => false,
        };
        if !ok || url.host().is_none() {
            return fail(format!(
                "{what} {text:?} is not an https URL (plain http only on loopback, for a local \
                 MCP server); refused"
            ));
        }
        if !self.local && internal(&url) {
            return fail(format!(
                "{what} {text:?} names an internal address, and the MCP server is not a local \
                 one; refused"
            ));
        }
        Ok(url)
    }
}

/// The MCP server's URL as the canonical resource URI (RFC 8707 / the MCP spec: scheme and
/// host lower case, no fragment, no trailing slash on a bare path).
pub fn canonical_resource(mcp_url: &str) -> Result<String, DiscoveryError> {
    let mut url =
        Url::parse(mcp_url).map_err(|e| DiscoveryError(format!("MCP server URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if loopback(&url) => {}
        _ => {
            return fail(format!(
                "MCP server URL {mcp_url:?}: keyport speaks to remote MCP servers over https \
                 (plain http only on loopback)"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return fail("MCP server URL: must not carry a user name or password");
    }
    url.set_fragment(None);
    let text = url.to_string();
    Ok(match url.path() {
        "/" if url.query().is_none() => text.trim_end_matches('/').to_string(),
        _ => text,
    })
}

fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Where protected resource metadata may be: the challenge's `resource_metadata`, then the
/// well-known URI with the server's path, then at the root (RFC 9728 §3.1, the MCP spec's
/// order).
pub fn metadata_candidates(resource: &Url, hinted: Option<&str>) -> Vec<String> {
    let origin = resource.origin().ascii_serialization();
    let path = resource.path().trim_end_matches('/');
    let mut urls: Vec<String> = hinted.map(str::to_string).into_iter().collect();
    if !path.is_empty() {
        urls.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    urls.push(format!("{origin}/.well-known/oauth-protected-resource"));
    urls.dedup();
    urls
}

/// Where an issuer's metadata may be, in the MCP spec's order (RFC 8414 §3.1 inserts the
/// well-known segment before the issuer's path; OpenID Connect Discovery appends it).
pub fn server_candidates(issuer: &Url) -> Vec<String> {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    if path.is_empty() {
        return vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ];
    }
    vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ]
}

fn get_json(net: &Net, url: &str) -> Result<Option<Value>, DiscoveryError> {
    let request = http::Request::get(url)
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| DiscoveryError(format!("{url}: {e}")))?;
    let response = net
        .send(request)
        .map_err(|e| DiscoveryError(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Ok(None);
    }
    serde_json::from_slice(response.body())
        .map(Some)
        .map_err(|e| DiscoveryError(format!("{url} is not a JSON document: {e}")))
}

/// The first of `urls` that answers with a document, and where it was.
fn first_document(net: &Net, urls: &[String]) -> Result<Option<(String, Value)>, DiscoveryError> {
    for url in urls {
        if let Some(doc) = get_json(net, url)? {
            return Ok(Some((url.clone(), doc)));
        }
    }
    Ok(None)
}

/// The MCP server's answer to an unauthenticated `initialize`: its challenge, if it asks
/// for a login.
fn probe(net: &Net, resource: &str) -> Result<Option<Challenge>, DiscoveryError> {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "keyport", "version": env!("CARGO_PKG_VERSION")}}});
    let request = http::Request::post(resource)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string().into_bytes())
        .map_err(|e| DiscoveryError(format!("{resource}: {e}")))?;
    let response = net.send(request).map_err(|e| {
        DiscoveryError(format!("could not reach the MCP server at {resource}: {e}"))
    })?;
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return Ok(None);
    }
    Ok(response
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
        .or(Some(Challenge::default())))
}

/// Finds everything needed to log in to the MCP server at `mcp_url`.
pub fn discover(net: &Net, mcp_url: &str) -> Result<Discovered, DiscoveryError> {
    let resource = canonical_resource(mcp_url)?;
    let reach = Reach {
        local: resource.starts_with("http:"),
    };
    let Some(challenge) = probe(net, &resource)? else {
        return fail(format!(
            "the MCP server at {resource} did not ask for a login (no 401 to an \
             unauthenticated request): there is nothing for keyport to hold"
        ));
    };
    let resource_url = reach.check("MCP server URL", &resource)?;
    let hinted = match &challenge.resource_metadata {
        Some(url) => Some(reach.check("resource_metadata", url)?.to_string()),
        None => None,
    };
    let tried = metadata_candidates(&resource_url, hinted.as_deref());
    let Some((at, doc)) = first_document(net, &tried)? else {
        return fail(format!(
            "the MCP server at {resource} publishes no protected resource metadata \
             (RFC 9728); tried {}",
            tried.join(", ")
        ));
    };
    let metadata: ResourceMetadata = serde_json::from_value(doc)
        .map_err(|e| DiscoveryError(format!("the resource metadata at {at}: {e}")))?;
    if !same_resource(&metadata.resource, &resource) {
        return fail(format!(
            "the resource metadata at {at} is for {:?}, not {resource} (RFC 9728 §3.3); refused",
            metadata.resource
        ));
    }
    let Some(issuer) = metadata.authorization_servers.first() else {
        return fail(format!(
            "the resource metadata at {at} names no authorization server"
        ));
    };
    let server = server_metadata(net, reach, issuer)?;
    let mut scopes = metadata.scopes_supported.clone();
    if scopes.is_empty()
        && let Some(scope) = &challenge.scope
    {
        scopes = scope.split_whitespace().map(str::to_string).collect();
    }
    let offline = "offline_access";
    if server
        .scopes_supported
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| s == offline))
        && !scopes.iter().any(|s| s == offline)
    {
        scopes.push(offline.to_string());
    }
    Ok(Discovered {
        resource,
        scopes,
        server,
    })
}

/// The metadata of `issuer`, checked: it names that issuer, https (or local) endpoints, and
/// PKCE with S256.
fn server_metadata(
    net: &Net,
    reach: Reach,
    issuer: &str,
) -> Result<ServerMetadata, DiscoveryError> {
    let issuer_url = reach.check("authorization server", issuer)?;
    let tried = server_candidates(&issuer_url);
    let Some((at, doc)) = first_document(net, &tried)? else {
        return fail(format!(
            "the authorization server {issuer} publishes no metadata (RFC 8414 / OpenID \
             Connect Discovery); tried {}",
            tried.join(", ")
        ));
    };
    let server: ServerMetadata = serde_json::from_value(doc)
        .map_err(|e| DiscoveryError(format!("the authorization server metadata at {at}: {e}")))?;
    if !same_resource(&server.issuer, issuer) {
        return fail(format!(
            "the metadata at {at} is for issuer {:?}, not {issuer:?} (RFC 8414 §3.3); refused",
            server.issuer
        ));
    }
    match &server.code_challenge_methods_supported {
        Some(methods) if methods.iter().any(|m| m == "S256") => {}
        Some(_) => {
            return fail(format!(
                "the authorization server {issuer} does not offer PKCE with S256; the MCP \
                 spec forbids logging in without it"
            ));
        }
        None => {
            return fail(format!(
                "the authorization server {issuer} does not advertise PKCE \
                 (code_challenge_methods_supported is missing from its metadata); the MCP \
                 spec forbids going on"
            ));
        }
    }
    reach.check("authorization_endpoint", &server.authorization_endpoint)?;
    reach.check("token_endpoint", &server.token_endpoint)?;
    for (what, url) in [
        ("registration_endpoint", &server.registration_endpoint),
        ("revocation_endpoint", &server.revocation_endpoint),
    ] {
        if let Some(url) = url {
            reach.check(what, url)?;
        }
    }
    Ok(server)
}

/// How keyport authenticates at the token endpoint once registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Basic,
    Post,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
        }
    }

    fn parse(text: &str) -> Option<ClientAuth> {
        match text {
            "none" => Some(ClientAuth::None),
            "client_secret_basic" => Some(ClientAuth::Basic),
            "client_secret_post" => Some(ClientAuth::Post),
            _ => None,
        }
    }

    /// A public client where the server allows one (RFC 8414's default list is
    /// `client_secret_basic` alone), else a secret by Basic, else in the body.
    fn preferred(server: &ServerMetadata) -> ClientAuth {
        let methods = server
            .token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        [ClientAuth::None, ClientAuth::Basic, ClientAuth::Post]
            .into_iter()
            .find(|m| methods.iter().any(|s| s == m.as_str()))
            .unwrap_or(ClientAuth::Basic)
    }
}

/// What a dynamic registration handed out; the secrets are sealed by the caller.
#[derive(Debug)]
pub struct Registration {
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub auth: ClientAuth,
    /// RFC 7592: the credential and URL that manage this registration.
    pub registration_access_token: Option<Secret>,
    pub registration_client_uri: Option<String>,
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<ClientSecret>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    registration_access_token: Option<Secret>,
    #[serde(default)]
    registration_client_uri: Option<String>,
}

/// The RFC 7591 request: a native app with keyport's loopback redirect, both grants and a
/// public client where the server allows. No `scope`: it is optional (RFC 7591 §2), and a
/// resource's own scopes are often not among those the server publishes, which some
/// servers then refuse; scopes are asked for at authorization instead.
pub fn registration_request(server: &ServerMetadata, redirect_uri: &str) -> Value {
    json!({
        "client_name": "keyport",
        "application_type": "native",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": ClientAuth::preferred(server).as_str(),
    })
}

/// An RFC 7591 error's `error` and `error_description`, short and printable.
fn registration_refusal(status: u16, body: &[u8]) -> String {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |k: &str| -> String {
        doc.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect()
    };
    match (text("error"), text("error_description")) {
        (e, _) if e.is_empty() => format!("HTTP {status}"),
        (e, d) if d.is_empty() => format!("HTTP {status}, {e}"),
        (e, d) => format!("HTTP {status}, {e}: {d}"),
    }
}

/// Registers keyport at the server's registration endpoint (RFC 7591).
pub fn register(
    net: &Net,
    server: &ServerMetadata,
    redirect_uri: &str,
) -> Result<Registration, DiscoveryError> {
    let Some(endpoint) = &server.registration_endpoint else {
        return fail(format!(
            "the authorization server {} offers no dynamic client registration; register \
             keyport there by hand (redirect URI {redirect_uri}) and pass its client id",
            server.issuer
        ));
    };
    let body = registration_request(server, redirect_uri);
    let request = http::Request::post(endpoint.as_str())
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|e| DiscoveryError(format!("{endpoint}: {e}")))?;
    let response = net
        .send(request)
        .map_err(|e| DiscoveryError(format!("registration at {endpoint}: {e}")))?;
    if !response.status().is_success() {
        return fail(format!(
            "the authorization server {} refused keyport's registration ({})",
            server.issuer,
            registration_refusal(response.status().as_u16(), response.body())
        ));
    }
    let answer: RegistrationResponse = serde_json::from_slice(response.body()).map_err(|e| {
        DiscoveryError(format!(
            "the registration answer from {endpoint} is unreadable: {e}"
        ))
    })?;
    let auth = answer
        .token_endpoint_auth_method
        .as_deref()
        .and_then(ClientAuth::parse)
        .unwrap_or_else(|| ClientAuth::preferred(server));
    if auth != ClientAuth::None && answer.client_secret.is_none() {
        return fail(format!(
            "the authorization server {} registered keyport as a confidential client but \
             gave no client secret",
            server.issuer
        ));
    }
    Ok(Registration {
        client_id: answer.client_id,
        client_secret: answer.client_secret,
        auth,
        registration_access_token: answer.registration_access_token,
        registration_client_uri: answer.registration_client_uri,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
#[path = "discovery_tests.rs"]
mod tests;
