//! Remote MCP servers whose OAuth logins keyport holds. A remote MCP server is an
//! integration of the catalog's `mcp` app: its URL is the base URL and the `resource` of
//! every authorization and token request (RFC 8707), its endpoints and client come from
//! discovery and registration (`auth::oauth2::discovery`), and its logins are ordinary
//! OAuth 2.0 connections, so they live in the one token lifecycle: any number of bridges
//! asking for a token share one refresh per token lifetime.
//!
//! Registrations are keyed by issuer: a second server behind the same authorization server
//! reuses the first one's client instead of registering again.

use serde_json::{Map, Value, json};

use super::access::Access;
use super::caller::{Act, Caller};
use super::connections::{Connections, CreateConnection};
use super::ctx::Ctx;
use super::error::{Error, Result};
use super::flows::Flows;
use super::integrations::{CreateIntegration, IntegrationView, Integrations, UpdateIntegration};
use super::tokens::Tokens;
use crate::audit::record::Event;
use crate::auth::oauth2::discovery::{self, ClientAuth, Discovered};
use crate::domain::api_key::Permission;
use crate::domain::{AuthScheme, Connection, ConnectionStatus, Integration};
use crate::ids::{ConnectionId, EntityId};
use crate::secret::AccessToken;
use crate::store::connections::{self as rows, ConnectionFilter, Order, Window};
use crate::store::integrations;

/// The catalog app every remote MCP server is an integration of.
pub const MCP_APP: &str = "mcp";
/// The most scopes one step-up may add, and the longest scope it may name.
const MAX_STEP_UP_SCOPES: usize = 10;
const MAX_SCOPE_LEN: usize = 128;

/// `keyport mcp add`: a server to discover, and the client to use if pre-registered.
pub struct AddServer {
    pub name: String,
    pub url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// An https URL of keyport's Client ID Metadata Document, used where the authorization
    /// server supports those documents.
    pub client_metadata_url: Option<String>,
}

impl std::fmt::Debug for AddServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// How keyport became a client of the server's authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolment {
    /// A client the user registered by hand.
    PreRegistered,
    /// A Client ID Metadata Document: the client id is the document's URL.
    MetadataDocument,
    /// RFC 7591 dynamic registration, now.
    Registered,
    /// The client registered earlier for another server with the same issuer.
    Reused,
}

impl Enrolment {
    pub fn as_str(self) -> &'static str {
        match self {
            Enrolment::PreRegistered => "pre-registered",
            Enrolment::MetadataDocument => "client-metadata-document",
            Enrolment::Registered => "registered",
            Enrolment::Reused => "reused",
        }
    }
}

/// A server just added.
#[derive(Debug)]
pub struct AddedServer {
    pub view: IntegrationView,
    pub issuer: String,
    pub enrolment: Enrolment,
}

/// What a bridge gets for one request to the server.
#[derive(Debug)]
pub enum ServerToken {
    /// The login's current access token, fresh (renewed first when due).
    Active {
        connection: ConnectionId,
        token: AccessToken,
    },
    /// No usable login, and no link asked for: why.
    Missing { reason: String },
    /// No usable login: the link that makes (or repairs) one, and why it is needed.
    LoginRequired {
        connection: ConnectionId,
        url: String,
        reason: String,
    },
}

/// What a bridge asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenAsk<'a> {
    /// The entity whose login (default: the key's own, else `default`).
    pub entity: Option<&'a str>,
    /// The fingerprint of a token the server just refused with 401.
    pub refused: Option<&'a str>,
    /// Without a usable login, start a sign-in and hand out its link (else only say so: a
    /// bridge waiting for one must not start a sign-in each time it looks).
    pub link: bool,
}

/// The SHA-256 of a token, hex: how a bridge names the token a server refused without
/// sending it back.
pub fn fingerprint(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_server_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(Error::invalid(
            "name: 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'",
        ))
    }
}

/// Scope values as RFC 6749 §3.3 allows them (printable ASCII, no space, `"` or `\`).
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// An enrolment's client settings, its sealed registration values, and how it was made.
type Enrolled = (Map<String, Value>, Map<String, Value>, Enrolment);

/// Remote MCP servers over the shared context.
#[derive(Clone, Copy)]
pub(crate) struct RemoteMcp<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

impl<'a> RemoteMcp<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        RemoteMcp { ctx, tokens }
    }

    fn integrations(&self) -> Integrations<'a> {
        Integrations::new(self.ctx)
    }

    /// Every remote MCP server integration, disabled ones included.
    fn servers(&self) -> Result<Vec<Integration>> {
        let all = self.ctx.store.read(|db| integrations::list(db, true))?;
        Ok(all.into_iter().filter(|i| i.app_key == MCP_APP).collect())
    }

    pub fn list(&self, caller: &Caller) -> Result<Vec<IntegrationView>> {
        caller.require(Permission::Use)?;
        let integrations = self.integrations();
        Ok(self
            .servers()?
            .into_iter()
            .map(|i| integrations.view(i))
            .collect())
    }

    /// The server called `name`.
    fn named(&self, name: &str) -> Result<Integration> {
        self.servers()?
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::not_found("MCP server", name))
    }

    /// Discovers the server at `req.url`, enrols keyport as a client of its authorization
    /// server and keeps it all as an integration. Admin only.
    pub fn add(&self, caller: &Caller, req: AddServer) -> Result<AddedServer> {
        caller.require(Permission::Admin)?;
        caller.require_unrestricted()?;
        let name = valid_server_name(&req.name)?;
        if self.servers()?.iter().any(|i| i.name == name) {
            return Err(Error::Conflict(format!(
                "an MCP server named {name:?} exists; remove it first or choose another name"
            )));
        }
        discovery::canonical_resource(&req.url).map_err(|e| Error::invalid(format!("url: {e}")))?;
        let found = discovery::discover(&self.ctx.net, &req.url)?;
        let (client, obtained, enrolment) = self.enrol(&req, &found)?;
        let issuer = found.server.issuer.clone();
        let mut config = client;
        let resource = json!({"resource": found.resource});
        config.extend([
            (
                "authorization_url".into(),
                json!(found.server.authorization_endpoint),
            ),
            ("token_url".into(), json!(found.server.token_endpoint)),
            ("issuer".into(), json!(issuer)),
            ("pkce".into(), json!(true)),
            ("scopes".into(), json!(found.scopes.join(" "))),
            ("authorization_params".into(), resource.clone()),
            ("token_params".into(), resource),
            ("base_url".into(), json!(found.resource)),
        ]);
        if let Some(url) = &found.server.revocation_endpoint {
            config.insert("revocation_url".into(), json!(url));
        }
        let create = CreateIntegration {
            app: MCP_APP.into(),
            name: Some(name),
            auth_scheme: Some(AuthScheme::OAuth2),
            auth_config: config,
            managed_auth: None,
        };
        let view = self
            .integrations()
            .create_sealing(caller, create, obtained)?;
        Ok(AddedServer {
            view,
            issuer,
            enrolment,
        })
    }

    /// The client settings (`client_id`, maybe `client_secret`, `token_auth`) and sealed
    /// registration values for the server, in the MCP spec's order of preference.
    fn enrol(&self, req: &AddServer, found: &Discovered) -> Result<Enrolled> {
        let mut client = Map::new();
        let mut obtained = Map::new();
        if let Some(id) = req.client_id.as_deref().filter(|s| !s.is_empty()) {
            client.insert("client_id".into(), json!(id));
            let auth = match req.client_secret.as_deref().filter(|s| !s.is_empty()) {
                Some(secret) => {
                    client.insert("client_secret".into(), json!(secret));
                    ClientAuth::Basic
                }
                None => ClientAuth::None,
            };
            client.insert("token_auth".into(), json!(auth.as_str()));
            return Ok((client, obtained, Enrolment::PreRegistered));
        }
        if let Some(document) = &req.client_metadata_url
            && found.server.client_id_metadata_document_supported
        {
            if !document.starts_with("https://") {
                return Err(Error::invalid(
                    "client_metadata_url: a Client ID Metadata Document is an https URL",
                ));
            }
            client.insert("client_id".into(), json!(document));
            client.insert("token_auth".into(), json!(ClientAuth::None.as_str()));
            return Ok((client, obtained, Enrolment::MetadataDocument));
        }
        if let Some((config, secrets)) = self.registered_at(&found.server.issuer)? {
            for key in ["client_id", "token_auth"] {
                if let Some(v) = config.config.get(key) {
                    client.insert(key.into(), v.clone());
                }
            }
            if let Some(secret) = secrets.get("client_secret") {
                client.insert("client_secret".into(), secret.clone());
            }
            for key in super::integrations::OBTAINED {
                if let Some(v) = secrets.get(key) {
                    obtained.insert(key.into(), v.clone());
                }
            }
            return Ok((client, obtained, Enrolment::Reused));
        }
        let callback = self.ctx.callback_url(MCP_APP);
        let registered = discovery::register(&self.ctx.net, &found.server, &callback)?;
        client.insert("client_id".into(), json!(registered.client_id));
        client.insert("token_auth".into(), json!(registered.auth.as_str()));
        if let Some(secret) = &registered.client_secret {
            client.insert("client_secret".into(), json!(secret.expose_secret()));
        }
        if let Some(token) = &registered.registration_access_token {
            obtained.insert(
                "registration_access_token".into(),
                json!(token.expose_secret()),
            );
        }
        if let Some(uri) = &registered.registration_client_uri {
            obtained.insert("registration_client_uri".into(), json!(uri));
        }
        Ok((client, obtained, Enrolment::Registered))
    }

    /// A server already registered with `issuer`, and its opened secrets.
    fn registered_at(&self, issuer: &str) -> Result<Option<(Integration, Map<String, Value>)>> {
        let Some(found) = self.servers()?.into_iter().find(|i| {
            i.config_str("issuer") == Some(issuer) && i.config_str("client_id").is_some()
        }) else {
            return Ok(None);
        };
        let secrets = self.integrations().secrets(found.id)?;
        Ok(Some((found, secrets)))
    }

    /// The entity a bridge acts for: the one named, else the key's own, else `default`.
    fn entity(caller: &Caller, named: Option<&str>) -> Result<EntityId> {
        let entity = match named.filter(|s| !s.is_empty()) {
            Some(e) => e.parse()?,
            None => caller
                .entity
                .clone()
                .unwrap_or_else(EntityId::default_entity),
        };
        caller.may_act_for(&entity)?;
        Ok(entity)
    }

    /// The entity's logins to `server`, most recently changed first.
    fn logins(&self, server: &Integration, entity: &EntityId) -> Result<Vec<Connection>> {
        let filter = ConnectionFilter {
            entities: vec![entity.clone()],
            integrations: vec![server.id],
            order: Order {
                by_update: true,
                newest_first: true,
            },
            ..ConnectionFilter::default()
        };
        let window = Window {
            limit: 50,
            offset: 0,
        };
        Ok(self.ctx.store.read(|db| rows::list(db, &filter, window))?)
    }

    /// The token a bridge attaches to its next request to `name` for the entity. With
    /// `refused` (the fingerprint of a token the server just answered 401 to), a newer one
    /// than that, from one renewal shared with every other bridge.
    pub fn token(&self, caller: &Caller, name: &str, ask: TokenAsk<'_>) -> Result<ServerToken> {
        caller.require(Permission::Use)?;
        let server = self.named(name)?;
        let entity = Self::entity(caller, ask.entity)?;
        let logins = self.logins(&server, &entity)?;
        let Some(active) = logins.iter().find(|c| c.status == ConnectionStatus::Active) else {
            if !ask.link {
                let reason = format!("no usable login to the MCP server {name} for {entity}");
                return Ok(ServerToken::Missing { reason });
            }
            return self.login_link(caller, &server, &entity, &logins, None);
        };
        let again = TokenAsk {
            entity: Some(entity.as_str()),
            refused: None,
            ..ask
        };
        let access = Access::new(self.ctx, self.tokens);
        let act = Act::Request(&http::Method::POST);
        let prepared = match access.prepare(caller, active.id, act) {
            Ok(p) => p,
            Err(e) if self.now_dead(active.id) => {
                tracing::info!(connection = %active.id, error = %e, "the MCP login is no longer usable");
                return self.token(caller, name, again);
            }
            Err(e) => return Err(e),
        };
        let issued = prepared
            .issued
            .clone()
            .ok_or_else(|| Error::Internal("an MCP login without an access token".into()))?;
        let token = match ask.refused {
            Some(f) if fingerprint(issued.expose_secret()) == f => {
                match self.renewed(&prepared.connection, &issued) {
                    Ok(fresh) => fresh,
                    Err(e) if self.now_dead(active.id) => {
                        tracing::info!(connection = %active.id, error = %e, "the MCP login died at its renewal");
                        return self.token(caller, name, again);
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => issued,
        };
        Ok(ServerToken::Active {
            connection: active.id,
            token,
        })
    }

    /// A newer token than `refused`, from the one renewal every caller shares.
    fn renewed(&self, connection: &Connection, refused: &AccessToken) -> Result<AccessToken> {
        let loaded = self.ctx.load(connection.id)?;
        let credentials = self.ctx.open(&loaded)?;
        let issuer = credentials
            .issuer()
            .ok_or_else(|| Error::Internal("an MCP login that issues no tokens".into()))?;
        self.tokens
            .access_token(&loaded.connection, issuer, Some(refused))
    }

    /// The connection turned unusable (a dead grant made it EXPIRED).
    fn now_dead(&self, id: ConnectionId) -> bool {
        self.ctx
            .load(id)
            .is_ok_and(|l| l.connection.status != ConnectionStatus::Active)
    }

    /// A step-up (RFC 6750 `insufficient_scope`): the scopes the server asked for join the
    /// server's, and the entity's login is authorized again in a browser with them.
    pub fn step_up(
        &self,
        caller: &Caller,
        name: &str,
        entity: Option<&str>,
        scope: &str,
    ) -> Result<ServerToken> {
        caller.require(Permission::Use)?;
        let server = self.named(name)?;
        let entity = Self::entity(caller, entity)?;
        caller.may(MCP_APP, Act::Connect)?;
        let asked: Vec<&str> = scope.split_whitespace().collect();
        let sane = |s: &&str| valid_scope(s) && s.len() <= MAX_SCOPE_LEN;
        if asked.is_empty() || asked.len() > MAX_STEP_UP_SCOPES || !asked.iter().all(sane) {
            return Err(Error::invalid(format!(
                "scope: the scopes the server asked for, space-separated (at most \
                 {MAX_STEP_UP_SCOPES}, each at most {MAX_SCOPE_LEN} characters)"
            )));
        }
        let mut scopes = server.scopes.clone();
        let missing: Vec<&str> = asked
            .iter()
            .copied()
            .filter(|s| !scopes.iter().any(|h| h == s))
            .collect();
        if !missing.is_empty() {
            scopes.extend(missing.iter().map(|s| s.to_string()));
            let mut changes = Map::new();
            changes.insert("scopes".into(), json!(scopes.join(" ")));
            self.integrations().apply(
                server.id,
                UpdateIntegration {
                    auth_config: Some(changes),
                    ..UpdateIntegration::default()
                },
            )?;
            // Nothing is granted before the user consents, but the widening is the key's
            // doing: on the record.
            let mut entry = super::audit::entry(self.ctx, Event::IntegrationChanged, Some(caller));
            entry.entity = Some(entity.to_string());
            entry.app = Some(MCP_APP.to_string());
            entry.detail = Some(format!(
                "MCP server {name}: scopes widened by a step-up with {}",
                missing.join(" ")
            ));
            self.ctx.audit.record(entry);
        }
        let server = self.ctx.load_integration(server.id)?;
        let logins = self.logins(&server, &entity)?;
        let why = format!(
            "the MCP server {name} asks for more access (scope {}); authorize it again",
            asked.join(" ")
        );
        self.login_link(caller, &server, &entity, &logins, Some(why))
    }

    /// A link that gives the entity a usable login: the newest login authorized again in
    /// place where there is one to repair (or to widen), else a new one.
    fn login_link(
        &self,
        caller: &Caller,
        server: &Integration,
        entity: &EntityId,
        logins: &[Connection],
        why: Option<String>,
    ) -> Result<ServerToken> {
        caller.may(MCP_APP, Act::Connect)?;
        use ConnectionStatus::*;
        let repairable = logins
            .iter()
            .find(|c| matches!(c.status, Active | Expired | Failed));
        if why.is_none()
            && let Some(off) = logins.iter().find(|c| c.status == Inactive)
            && repairable.is_none()
        {
            return Err(Error::Conflict(format!(
                "the login to {} for {entity} is disabled; enable it with `keyport connections \
                 enable {}`",
                server.name, off.id
            )));
        }
        let created = match repairable {
            Some(login) => Flows::new(self.ctx, self.tokens).reconnect(login, server, None)?,
            None => {
                let request = CreateConnection {
                    integration_id: server.id,
                    entity: Some(entity.to_string()),
                    data: Map::new(),
                    labels: Vec::new(),
                    redirect_url: None,
                    validate: false,
                    scheme: None,
                };
                Connections::new(self.ctx, self.tokens)
                    .link(caller, request)?
                    .created
            }
        };
        let url = created
            .redirect_url
            .ok_or_else(|| Error::Internal("a browser flow without a link".into()))?;
        let reason = why.unwrap_or_else(|| match repairable {
            Some(c) => format!(
                "the login to the MCP server {} for {entity} is {}; sign in again",
                server.name, c.status
            ),
            None => format!(
                "no login to the MCP server {} for {entity} yet; sign in",
                server.name
            ),
        });
        Ok(ServerToken::LoginRequired {
            connection: created.id,
            url,
            reason,
        })
    }
}

/// Remote MCP servers whose logins keyport holds (`keyport mcp add`, `keyport mcp bridge`).
impl super::Service {
    /// Discovers a remote MCP server and enrols keyport with its authorization server.
    pub fn add_mcp_server(&self, caller: &Caller, req: AddServer) -> Result<AddedServer> {
        RemoteMcp::new(&self.ctx, self.tokens()).add(caller, req)
    }

    pub fn list_mcp_servers(&self, caller: &Caller) -> Result<Vec<IntegrationView>> {
        RemoteMcp::new(&self.ctx, self.tokens()).list(caller)
    }

    /// The access token a bridge attaches to its next request, or the link a login needs.
    /// Audited as a credential read.
    pub fn mcp_server_token(
        &self,
        caller: &Caller,
        name: &str,
        ask: TokenAsk<'_>,
    ) -> Result<ServerToken> {
        let got = RemoteMcp::new(&self.ctx, self.tokens()).token(caller, name, ask);
        if let Ok(ServerToken::Active { connection, .. }) = &got {
            let mut entry = super::audit::entry(&self.ctx, Event::CredentialsRead, Some(caller));
            if let Ok(loaded) = self.ctx.load(*connection) {
                entry = super::audit::about(entry, &loaded.connection);
            }
            entry.detail = Some(format!("MCP server {name}: access token for a bridge"));
            self.ctx.audit.record(entry);
        }
        got
    }

    /// A step-up: the server asked for `scope`; the login is authorized again with it.
    pub fn mcp_server_step_up(
        &self,
        caller: &Caller,
        name: &str,
        entity: Option<&str>,
        scope: &str,
    ) -> Result<ServerToken> {
        RemoteMcp::new(&self.ctx, self.tokens()).step_up(caller, name, entity, scope)
    }
}

#[cfg(test)]
#[path = "remote_mcp_tests.rs"]
mod tests;
