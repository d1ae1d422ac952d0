//! Acting for an entity: resolve a usable connection to the request target and the
//! credential to inject, opened from the vault, typed by its scheme and fresh. This is the
//! only path by which stored credentials leave the service towards a provider.
//!
//! Sealed values open as `SecretFields` (every value a secret type) and become the
//! scheme's typed `auth::Credentials`; nothing outside `auth/` names a credential's wire
//! key. Token-issuing schemes get their token from the one lifecycle ([`Tokens`]).

use super::caller::{Act, Caller};
use super::ctx::{Ctx, Loaded, check_may_act};
use super::tokens::Tokens;
use crate::auth::{Credentials, Injection};
use crate::domain::api_key::Permission;
use crate::domain::{Connection, Integration};
use crate::ids::ConnectionId;
use crate::secret::AccessToken;
use crate::service::error::Result;

/// Everything needed to send one authenticated request for a connection.
#[derive(Debug)]
pub struct Prepared {
    pub connection: Connection,
    pub integration: Integration,
    /// The integration's API base URL with the connection's template variables filled in.
    pub base_url: String,
    /// Default headers the app wants on every call (never credentials), rendered.
    pub app_headers: Vec<(String, String)>,
    /// Hosts besides the base URL's the app's requests may go to (the catalog's closed
    /// list), with the base URL's scheme and path.
    pub extra_hosts: Vec<String>,
    pub injection: Injection,
    /// The issued access token in `injection` (OAuth 2.0, BASIC_WITH_JWT, service
    /// accounts), so a 401 can ask for a newer one than exactly this.
    pub issued: Option<AccessToken>,
}

/// Credentials made ready for use, over the shared context and the token lifecycle.
#[derive(Clone, Copy)]
pub(crate) struct Access<'a> {
    ctx: &'a Ctx,
    tokens: Tokens<'a>,
}

impl<'a> Access<'a> {
    pub fn new(ctx: &'a Ctx, tokens: Tokens<'a>) -> Self {
        Access { ctx, tokens }
    }

    /// What one request for `connection` carries: a token-issuing scheme's current token
    /// (renewed first when needed), or the credential itself.
    pub fn inject(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<(Injection, Option<AccessToken>)> {
        match credentials.issuer() {
            Some(issuer) => {
                let token = self.tokens.access_token(connection, issuer, None)?;
                Ok((Injection::bearer(token.expose_secret()), Some(token)))
            }
            None => Ok((credentials.injection(&self.ctx.clock)?, None)),
        }
    }

    /// A usable connection the caller may act through, with a fresh credential to inject.
    /// The key's restrictions are checked for `act` on the connection's app before the
    /// credential is opened or renewed, so a refused request reaches no provider.
    pub fn prepare(&self, caller: &Caller, id: ConnectionId, act: Act<'_>) -> Result<Prepared> {
        caller.require(Permission::Use)?;
        let loaded = self.ctx.load_for(caller, id)?;
        caller.may(&loaded.connection.app_key, act)?;
        check_may_act(&loaded.connection, &loaded.integration)?;
        let app = self.ctx.app(&loaded.integration.app_key)?;
        let credentials = self.ctx.open(&loaded)?;
        let Loaded {
            connection,
            integration,
            ..
        } = loaded;
        let (injection, issued) = self.inject(&connection, &credentials)?;
        let base_url = self.ctx.render_for(&integration.base_url, &connection)?;
        let app_headers = self.ctx.app_headers(&integration, &connection)?;
        let extra_hosts = app.extra_hosts.clone();
        Ok(Prepared {
            connection,
            integration,
            base_url,
            app_headers,
            extra_hosts,
            injection,
            issued,
        })
    }

    /// A new injection after the provider answered 401 to `prepared`, or `None` when
    /// there is nothing to renew: static schemes (API_KEY, BEARER_TOKEN, BASIC, NO_AUTH)
    /// carry the same credential whatever happens, and OAuth 1.0a token credentials do not
    /// expire. Token-issuing schemes get a newer token than the refused one (one renewal,
    /// shared with concurrent callers); a dead grant turns the connection EXPIRED.
    pub fn after_401(&self, prepared: &Prepared) -> Result<Option<Injection>> {
        let Some(refused) = &prepared.issued else {
            return Ok(None);
        };
        let credentials = self.ctx.open(&self.ctx.load(prepared.connection.id)?)?;
        let Some(issuer) = credentials.issuer() else {
            return Ok(None);
        };
        let fresh = self
            .tokens
            .access_token(&prepared.connection, issuer, Some(refused))?;
        Ok(Some(Injection::bearer(fresh.expose_secret())))
    }
}
