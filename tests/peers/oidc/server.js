#!/usr/bin/env node
// keyport test peer: a real OAuth 2.0 / OpenID Connect authorization server
// (panva's oidc-provider from npm) bound to 127.0.0.1, plus a small
// stats/control API on the same port under /__*.
//
// Usage: node server.js --port 0 --client-id ID --client-secret SECRET \
//          --redirect-uri http://127.0.0.1:7790/api/v1/oauth/callback/testidp \
//          [--auth-method client_secret_post|client_secret_basic] [--access-ttl SECONDS] ...
// or put the same settings (snake_case keys) in the env var OIDC_PEER_CONFIG as
// one JSON object; CLI flags override it. See README.md.
//
// stdout carries exactly one JSON line once listening; all logging goes to stderr.

import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

// oidc-provider prints notices with console.info (stdout). Keep stdout for the
// single readiness line: route every console method to stderr.
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}

const USAGE = `usage: node server.js [--port N] --redirect-uri URI [--redirect-uri URI ...]
  [--client-id ID] [--client-secret SECRET]
  [--auth-method client_secret_post|client_secret_basic]
  [--access-ttl SECONDS] [--refresh-ttl SECONDS] [--code-ttl SECONDS]
  [--application-type web|native] [--no-rotate] [--refresh-without-offline-access]
  [--lenient-auth]
  (or env OIDC_PEER_CONFIG='{"port":0,"client_id":"...","redirect_uris":["..."],...}')`;

function fail(msg) {
  console.error(`oidc peer: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

// ---------------------------------------------------------------- config
function validResource(v) {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return !u.hash;
  } catch {
    return false;
  }
}

function validScopes(v) {
  return Array.isArray(v) && v.length > 0
    && v.every((x) => typeof x === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(x));
}

function loadConfig() {
  let env = {};
  if (process.env.OIDC_PEER_CONFIG) {
    try {
      env = JSON.parse(process.env.OIDC_PEER_CONFIG);
    } catch (e) {
      fail(`OIDC_PEER_CONFIG is not valid JSON: ${e.message}`);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        port: { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'auth-method': { type: 'string' },
        'access-ttl': { type: 'string' },
        'refresh-ttl': { type: 'string' },
        'code-ttl': { type: 'string' },
        'application-type': { type: 'string' },
        'no-rotate': { type: 'boolean' },
        'lenient-auth': { type: 'boolean' },
        'refresh-without-offline-access': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail(e.message);
  }
  if (parsed.help) {
    console.error(USAGE);
    process.exit(0);
  }
  const pick = (flag, key, dflt) => (parsed[flag] !== undefined ? parsed[flag] : env[key] !== undefined ? env[key] : dflt);
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const cfg = {
    port: int('--port', pick('port', 'port', 0)),
    clientId: String(pick('client-id', 'client_id', 'keyport-test')),
    clientSecret: String(pick('client-secret', 'client_secret', 'keyport-test-secret')),
    redirectUris: pick('redirect-uri', 'redirect_uris', []),
    authMethod: pick('auth-method', 'token_endpoint_auth_method', 'client_secret_post'),
    accessTtl: int('--access-ttl', pick('access-ttl', 'access_ttl', 3600)),
    refreshTtl: int('--refresh-ttl', pick('refresh-ttl', 'refresh_ttl', 14 * 24 * 3600)),
    codeTtl: int('--code-ttl', pick('code-ttl', 'code_ttl', 60)),
    applicationType: pick('application-type', 'application_type', 'web'),
    rotate: !(parsed['no-rotate'] ?? env.rotate_refresh_tokens === false),
    lenientAuth: Boolean(parsed['lenient-auth'] ?? env.lenient_auth ?? false),
    refreshWithoutOffline: Boolean(parsed['refresh-without-offline-access'] ?? env.refresh_without_offline_access ?? false),
    // Remote-MCP settings (env only, all opt-in): dynamic client registration (RFC 7591),
    // one resource server by RFC 8707 resource indicator, and a confidential client the
    // resource server introspects tokens with (RFC 7662).
    registration: env.registration ?? false,
    resource: env.resource ?? null,
    resourceScopes: env.resource_scopes ?? ['mcp:tools'],
    requireResource: env.require_resource ?? true,
    introspectionClientId: env.introspection_client_id ?? null,
    introspectionClientSecret: env.introspection_client_secret ?? null,
  };
  if (typeof cfg.registration !== 'boolean') fail('registration must be a boolean');
  if (!Array.isArray(cfg.redirectUris)) fail('redirect_uris must be an array');
  if (cfg.redirectUris.length === 0 && !cfg.registration) fail('at least one --redirect-uri is required (or "registration": true)');
  if (cfg.resource !== null && !validResource(cfg.resource)) {
    fail(`resource must be an absolute URL, got ${JSON.stringify(cfg.resource)}`);
  }
  if (!validScopes(cfg.resourceScopes)) fail('resource_scopes must be a non-empty array of scope tokens');
  if (typeof cfg.requireResource !== 'boolean') fail('require_resource must be a boolean');
  if ((cfg.introspectionClientId === null) !== (cfg.introspectionClientSecret === null)) {
    fail('introspection_client_id and introspection_client_secret go together');
  }
  if (cfg.introspectionClientId !== null && cfg.introspectionClientId === cfg.clientId) {
    fail('introspection_client_id must differ from client_id');
  }
  if (cfg.port > 65535) fail('--port out of range');
  if (!['client_secret_post', 'client_secret_basic'].includes(cfg.authMethod)) fail(`unsupported --auth-method ${cfg.authMethod}`);
  if (!['web', 'native'].includes(cfg.applicationType)) fail(`unsupported --application-type ${cfg.applicationType}`);
  if (cfg.accessTtl < 1 || cfg.refreshTtl < 1 || cfg.codeTtl < 1) fail('TTLs must be >= 1 second');
  return cfg;
}

const cfg = loadConfig();

// ---------------------------------------------------------------- storage
// A plain in-memory adapter (oidc-provider's storage interface). Own one
// instead of the built-in so /__revoke_all can see and drop every grant.
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const uidIndex = new Map(); // `${model}:${uid}` -> id
const userCodeIndex = new Map(); // `${model}:${userCode}` -> id
const grantIndex = new Map(); // `${model}:${grantId}` -> Set(id)

class MemoryStore {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), {
      payload: { ...payload },
      expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
    });
    if (payload.uid) uidIndex.set(this.key(payload.uid), id);
    if (payload.userCode) userCodeIndex.set(this.key(payload.userCode), id);
    if (payload.grantId) {
      const gk = this.key(payload.grantId);
      if (!grantIndex.has(gk)) grantIndex.set(gk, new Set());
      grantIndex.get(gk).add(id);
    }
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return { ...entry.payload };
  }

  async findByUid(uid) {
    const id = uidIndex.get(this.key(uid));
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(this.key(userCode));
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const gk = this.key(grantId);
    for (const id of grantIndex.get(gk) ?? []) store.delete(this.key(id));
    grantIndex.delete(gk);
  }
}

// Drop every grant and every artifact bound to one (codes, access tokens,
// refresh tokens). Sessions survive, as they would when a user revokes an
// app's access at a real provider.
function revokeAll() {
  let grants = 0;
  let tokens = 0;
  for (const [key, entry] of store) {
    if (key.startsWith('Grant:')) {
      grants += 1;
      store.delete(key);
    } else if (entry.payload.grantId || key.startsWith('ClientCredentials:')) {
      tokens += 1;
      store.delete(key);
    }
  }
  grantIndex.clear();
  return { revoked_grants: grants, removed_tokens: tokens };
}

// ---------------------------------------------------------------- stats
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'];
const MAX_LOG = 1000;
let stats;
function resetStats() {
  const zero = () => Object.fromEntries([...GRANT_TYPES, 'other'].map((g) => [g, 0]));
  stats = {
    token: zero(), // every POST to the token endpoint, by grant_type
    token_errors: zero(), // the subset that got a non-2xx answer
    revocation: 0, // every POST to the revocation endpoint
    revocation_errors: 0,
    revoked_tokens: [], // token_type_hint of each revocation request (null if absent)
    authorization: 0, // GET/POST to the authorization endpoint (not the /auth/:uid resumes)
    userinfo: 0,
    registrations: 0, // successful dynamic client registrations (RFC 7591)
    registrations_refused: 0, // registration requests answered with an error
    introspection: 0, // POSTs to the introspection endpoint
    introspection_active: 0, // ... answered active: true
    refresh_reuse_detected: 0, // a consumed refresh token presented again (the grant is revoked)
    grants_revoked: 0, // grants the provider revoked (reuse detection, revocation endpoint)
    token_without_resource: 0, // authorization_code/refresh_token requests without `resource` (resource mode only)
    requests: [], // log of the above, oldest first, capped at MAX_LOG
  };
}
resetStats();

function logRequest(entry) {
  stats.requests.push({ at: new Date().toISOString(), ...entry });
  if (stats.requests.length > MAX_LOG) stats.requests.shift();
}

function clientAuthUsed(ctx) {
  const auth = ctx.get('authorization') || '';
  if (/^basic /i.test(auth)) return 'client_secret_basic';
  const body = ctx.oidc?.body ?? ctx.state.peerBody;
  if (body && typeof body === 'object' && body.client_secret !== undefined) return 'client_secret_post';
  return 'none';
}

// ---------------------------------------------------------------- provider
const { default: Provider, errors } = await import('oidc-provider');

// Settings /__config changes while the peer runs. `refreshTtl` is each refresh token's
// lifetime from its issue; with rotation every refresh issues a new one with the full
// lifetime, so it is an idle limit (the grant itself keeps --refresh-ttl). With
// `announceRefreshTtl` the token response says it (`refresh_token_expires_in`).
const runtime = {
  accessTtl: cfg.accessTtl,
  refreshTtl: cfg.refreshTtl,
  announceRefreshTtl: false,
  refreshDelayMs: 0,
  // fault switches for remote-MCP clients (POST /__config)
  refuseRegistration: false,
  stripPkceMetadata: false,
  issOverride: null,
  resource: cfg.resource,
  resourceScopes: cfg.resourceScopes,
};

function jwks() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'peer-rs256', alg: 'RS256', use: 'sig' }] };
}

function accountClaims(login) {
  const email = login.includes('@') ? login : `${login}@example.test`;
  return {
    sub: login,
    name: login,
    preferred_username: login,
    email,
    email_verified: true,
  };
}

const httpServer = http.createServer();
try {
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(cfg.port, '127.0.0.1', resolve);
  });
} catch (e) {
  console.error(`oidc peer: cannot listen on 127.0.0.1:${cfg.port}: ${e.message}`);
  process.exit(1);
}
const { port } = httpServer.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  adapter: MemoryStore,
  jwks: jwks(),
  cookies: {
    // Cookies ignore ports, so keyport on another 127.0.0.1 port shares the
    // jar; use names that cannot collide with keyport's.
    names: { session: '_oidcpeer_session', interaction: '_oidcpeer_interaction', resume: '_oidcpeer_resume' },
    keys: [crypto.randomBytes(32).toString('hex')],
  },
  clients: [
    ...(cfg.redirectUris.length ? [{
      client_id: cfg.clientId,
      client_secret: cfg.clientSecret,
      redirect_uris: cfg.redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: cfg.authMethod,
      application_type: cfg.applicationType,
      scope: 'openid offline_access profile email api:read',
    }] : []),
    // The resource server's own client: it only calls the introspection endpoint.
    ...(cfg.introspectionClientId ? [{
      client_id: cfg.introspectionClientId,
      client_secret: cfg.introspectionClientSecret,
      redirect_uris: [],
      response_types: [],
      grant_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }] : []),
  ],
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  responseTypes: ['code'],
  pkce: { required: () => true }, // oidc-provider 9 only implements S256
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    // RFC 7591 without an initial access token. Stock defaults for what a request leaves
    // out (application_type web, grant_types authorization_code only, a client secret).
    registration: { enabled: cfg.registration, initialAccessToken: false },
    // RFC 8707: stock oidc-provider answers any `resource` with invalid_target. With
    // `resource` set (at start or by POST /__config), exactly that one is known: opaque,
    // audience-bound access tokens (introspectable, revocable) carrying the requested
    // resource_scopes.
    ...(cfg.resource || cfg.registration ? {
      resourceIndicators: {
        enabled: true,
        async getResourceServerInfo(_ctx, indicator) {
          if (runtime.resource === null || indicator !== runtime.resource) throw new errors.InvalidTarget();
          return {
            scope: runtime.resourceScopes.join(' '),
            audience: runtime.resource,
            accessTokenTTL: runtime.accessTtl,
            accessTokenFormat: 'opaque',
          };
        },
      },
    } : {}),
  },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return accountClaims(sub); } };
  },
  async issueRefreshToken(_ctx, client, source) {
    if (!client.grantTypeAllowed('refresh_token')) return false;
    return cfg.refreshWithoutOffline || source.scopes.has('offline_access');
  },
  rotateRefreshToken: cfg.rotate,
  ttl: {
    AccessToken: () => runtime.accessTtl,
    ClientCredentials: () => runtime.accessTtl,
    AuthorizationCode: cfg.codeTtl,
    RefreshToken: () => runtime.refreshTtl,
    IdToken: 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: cfg.refreshTtl,
  },
});

// A refresh grant's answer is held back refreshDelayMs (POST /__config
// {"refresh_delay_ms": n}) after the provider has issued (and rotated) its
// tokens: the window in which a client that gives up loses the new refresh
// token. Registered first, so the stats below count the request before the wait.
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
provider.use(async (ctx, next) => {
  await next();
  const gt = ctx.oidc?.params?.grant_type ?? ctx.oidc?.body?.grant_type;
  if (runtime.refreshDelayMs > 0 && ctx.path === '/token' && ctx.method === 'POST' && gt === 'refresh_token') {
    await sleep(runtime.refreshDelayMs);
  }
});

// Count every request that reaches the token / revocation / authorization /
// userinfo endpoints, failed ones included. Runs around oidc-provider's own
// router, so it sees the real outcome.
const paths = {
  token: '/token',
  revocation: '/token/revocation',
  authorization: '/auth',
  userinfo: '/me',
  introspection: '/token/introspection',
  registration: '/reg',
};
provider.use(async (ctx, next) => {
  try {
    await next();
  } finally {
    const { path, method } = ctx;
    const status = ctx.status;
    const error = ctx.body && typeof ctx.body === 'object' ? ctx.body.error ?? null : null;
    if (path === paths.token && method === 'POST') {
      const params = ctx.oidc?.params ?? {};
      const body = ctx.oidc?.body ?? ctx.state.peerBody ?? {};
      const gt = params.grant_type ?? body.grant_type;
      const key = GRANT_TYPES.includes(gt) ? gt : 'other';
      stats.token[key] += 1;
      if (status >= 300) stats.token_errors[key] += 1;
      const entry = { endpoint: 'token', grant_type: gt ?? null, status, error, client_auth: clientAuthUsed(ctx) };
      if (cfg.resource || cfg.registration || cfg.introspectionClientId) {
        const resource = params.resource ?? body.resource ?? null;
        entry.client_id = ctx.oidc?.client?.clientId ?? body.client_id ?? null;
        entry.resource = resource;
        entry.error_detail = ctx.state.peerErrorDetail ?? null;
        if (runtime.resource && resource === null && (gt === 'authorization_code' || gt === 'refresh_token')) {
          stats.token_without_resource += 1;
        }
      }
      logRequest(entry);
    } else if (path === paths.revocation && method === 'POST') {
      const hint = ctx.oidc?.params?.token_type_hint ?? ctx.oidc?.body?.token_type_hint ?? ctx.state.peerBody?.token_type_hint ?? null;
      stats.revocation += 1;
      if (status >= 300) stats.revocation_errors += 1;
      stats.revoked_tokens.push(hint);
      const found = ['RefreshToken', 'AccessToken', 'ClientCredentials'].find((k) => ctx.oidc?.entities?.[k]) ?? null;
      logRequest({ endpoint: 'revocation', token_type_hint: hint, token_kind: found, status, error, client_auth: clientAuthUsed(ctx) });
    } else if (path === paths.authorization && (method === 'GET' || method === 'POST')) {
      stats.authorization += 1;
      const q = method === 'GET' ? ctx.query : (ctx.oidc?.body ?? {});
      logRequest({
        endpoint: 'authorization',
        status,
        client_id: q.client_id ?? null,
        redirect_uri: q.redirect_uri ?? null,
        response_type: q.response_type ?? null,
        scope: q.scope ?? null,
        prompt: q.prompt ?? null,
        state_present: q.state !== undefined,
        code_challenge_method: q.code_challenge_method ?? null,
        code_challenge_present: q.code_challenge !== undefined,
        location: ctx.response.get('location') || null,
        ...(cfg.resource || cfg.registration || cfg.introspectionClientId ? { resource: q.resource ?? null } : {}),
      });
    } else if (path === paths.userinfo) {
      stats.userinfo += 1;
      logRequest({ endpoint: 'userinfo', status, error });
    } else if (path === paths.introspection && method === 'POST') {
      stats.introspection += 1;
      const active = status === 200 && ctx.body && typeof ctx.body === 'object' && ctx.body.active === true;
      if (active) stats.introspection_active += 1;
      logRequest({
        endpoint: 'introspection',
        status,
        error,
        active,
        aud: active ? ctx.body.aud ?? null : null,
        scope: active ? ctx.body.scope ?? null : null,
        client_id: ctx.oidc?.client?.clientId ?? null,
      });
    } else if (path === paths.registration && method === 'POST' && cfg.registration) {
      const ok = status === 201;
      if (ok) stats.registrations += 1;
      else stats.registrations_refused += 1;
      const b = ctx.oidc?.body ?? {};
      logRequest({
        endpoint: 'registration',
        status,
        error,
        client_id: ok ? ctx.body.client_id : null,
        application_type: b.application_type ?? null,
        grant_types: b.grant_types ?? null,
        token_endpoint_auth_method: b.token_endpoint_auth_method ?? null,
        redirect_uris: b.redirect_uris ?? null,
        scope: b.scope ?? null,
      });
    }
  }
});

// Read a form body ahead of oidc-provider (once), and hand it on: oidc-provider takes
// `ctx.request.body` when the request stream was already read.
async function peerForm(ctx) {
  if (ctx.state.peerBody) return ctx.state.peerBody;
  const chunks = [];
  for await (const c of ctx.req) chunks.push(c);
  ctx.state.peerBody = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  ctx.request.body = ctx.state.peerBody;
  return ctx.state.peerBody;
}

// Resource mode (unless "require_resource": false): an authorization_code or
// refresh_token request without `resource` is refused with invalid_target before
// oidc-provider sees it, so nothing is consumed. (Stock oidc-provider would answer
// it with an audience-less token when the scope has `openid`, and otherwise with a
// token for the granted resource.) MCP clients must send RFC 8707 `resource` on the
// token requests too.
provider.use(async (ctx, next) => {
  if (!runtime.resource || !cfg.requireResource || ctx.method !== 'POST' || ctx.path !== paths.token
    || !ctx.is('application/x-www-form-urlencoded')) return next();
  const body = await peerForm(ctx);
  if (!['authorization_code', 'refresh_token'].includes(body.grant_type) || body.resource) return next();
  ctx.status = 400;
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'invalid_target',
    error_description: 'the resource parameter (RFC 8707) is required on token requests',
  };
  return undefined;
});

// oidc-provider accepts client_secret_basic and client_secret_post
// interchangeably whichever one the client registered. Unless --lenient-auth,
// hold the client to its registered method, as strict providers do, so tests
// notice when keyport authenticates the wrong way.
// Only the configured confidential client is held to it: dynamically registered
// clients and the introspection client authenticate as oidc-provider allows.
const clientAuthPaths = new Set([paths.token, paths.revocation, paths.introspection]);
function basicClientId(header) {
  try {
    const decoded = Buffer.from(header.replace(/^basic /i, ''), 'base64').toString('utf8');
    return decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, '%20'));
  } catch {
    return null;
  }
}
provider.use(async (ctx, next) => {
  if (cfg.lenientAuth || ctx.method !== 'POST' || !clientAuthPaths.has(ctx.path)) return next();
  const authz = ctx.get('authorization') || '';
  const usesBasic = /^basic /i.test(authz);
  if (usesBasic === (cfg.authMethod === 'client_secret_basic')) return next();
  const others = cfg.registration || cfg.introspectionClientId !== null;
  if (usesBasic && others && basicClientId(authz) !== cfg.clientId) return next();
  // Mismatch (or, with other clients around, maybe one): read the form body, so the
  // stats can tell which grant_type / token_type_hint was asked for and which client
  // this is.
  const body = await peerForm(ctx);
  if (!usesBasic && others && body.client_id !== cfg.clientId) return next(); // another client
  ctx.status = 401;
  if (usesBasic) ctx.set('www-authenticate', 'Basic realm="oidc-peer"');
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'invalid_client',
    error_description: `client authentication failed: this client is registered for ${cfg.authMethod}`,
  };
  return undefined;
});

// POST /__config {"refuse_registration": true}: registration requests get an RFC 7591
// error (400 invalid_client_metadata) without reaching oidc-provider.
provider.use(async (ctx, next) => {
  if (!(cfg.registration && runtime.refuseRegistration && ctx.method === 'POST' && ctx.path === paths.registration)) {
    return next();
  }
  ctx.status = 400;
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'invalid_client_metadata',
    error_description: 'registration refused by the test peer (refuse_registration)',
  };
  return undefined;
});

// POST /__config {"strip_pkce_metadata": true}: both discovery documents lose
// code_challenge_methods_supported (an MCP client must then refuse the server).
const discoveryPaths = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
provider.use(async (ctx, next) => {
  await next();
  if (runtime.stripPkceMetadata && ctx.method === 'GET' && discoveryPaths.has(ctx.path)
    && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    const { code_challenge_methods_supported: _dropped, ...rest } = ctx.body;
    ctx.body = rest;
  }
});

// POST /__config {"iss_override": "…"}: the `iss` (RFC 9207) of authorization responses
// redirected to the client is rewritten, as a mix-up attack would present it.
provider.use(async (ctx, next) => {
  await next();
  if (runtime.issOverride === null || ctx.status < 300 || ctx.status >= 400) return;
  const location = ctx.response.get('location');
  if (!location) return;
  let target;
  try {
    target = new URL(location, issuer);
  } catch {
    return;
  }
  if (target.origin === issuer || !target.searchParams.has('iss')) return;
  if (!target.searchParams.has('code') && !target.searchParams.has('error')) return;
  target.searchParams.set('iss', runtime.issOverride);
  ctx.redirect(target.toString());
});

// Why a grant request failed (oidc-provider keeps it out of the response), and
// refresh-token reuse: a consumed refresh token presented again revokes the grant.
provider.on('grant.error', (ctx, err) => {
  ctx.state.peerErrorDetail = err.error_detail ?? null;
  if (err.error_detail === 'refresh token already used') stats.refresh_reuse_detected += 1;
});
provider.on('grant.revoked', () => {
  stats.grants_revoked += 1;
});

// `refresh_token_expires_in` (not in RFC 6749; GitHub and others send it) on every token
// response that carries a refresh token, when announced.
provider.use(async (ctx, next) => {
  await next();
  if (!runtime.announceRefreshTtl || ctx.path !== paths.token || ctx.method !== 'POST') return;
  if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && ctx.body.refresh_token) {
    ctx.body = { ...ctx.body, refresh_token_expires_in: runtime.refreshTtl };
  }
});

provider.on('server_error', (_ctx, err) => console.error('oidc peer: server_error', err));

// ---------------------------------------------------------------- control API
function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text ? JSON.parse(text) : {};
}

async function control(req, res, path) {
  if (path === '/__stats' && req.method === 'GET') return sendJson(res, 200, stats);
  if (path === '/__reset' && req.method === 'POST') {
    resetStats();
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/__revoke_all' && req.method === 'POST') return sendJson(res, 200, { ok: true, ...revokeAll() });
  if (path === '/__config' && (req.method === 'POST' || req.method === 'GET')) {
    if (req.method === 'POST') {
      let body;
      try {
        body = await readJson(req);
      } catch (e) {
        return sendJson(res, 400, { error: `invalid JSON: ${e.message}` });
      }
      for (const [key, field] of [['access_ttl', 'accessTtl'], ['refresh_ttl', 'refreshTtl']]) {
        if (body[key] === undefined) continue;
        const n = Number(body[key]);
        if (!Number.isInteger(n) || n < 1) return sendJson(res, 400, { error: `${key} must be an integer >= 1` });
        runtime[field] = n;
      }
      if (body.announce_refresh_ttl !== undefined) {
        if (typeof body.announce_refresh_ttl !== 'boolean') return sendJson(res, 400, { error: 'announce_refresh_ttl must be a boolean' });
        runtime.announceRefreshTtl = body.announce_refresh_ttl;
      }
      if (body.refresh_delay_ms !== undefined) {
        const n = Number(body.refresh_delay_ms);
        if (!Number.isInteger(n) || n < 0) return sendJson(res, 400, { error: 'refresh_delay_ms must be an integer >= 0' });
        runtime.refreshDelayMs = n;
      }
      for (const [key, field] of [['refuse_registration', 'refuseRegistration'], ['strip_pkce_metadata', 'stripPkceMetadata']]) {
        if (body[key] === undefined) continue;
        if (typeof body[key] !== 'boolean') return sendJson(res, 400, { error: `${key} must be a boolean` });
        runtime[field] = body[key];
      }
      if (body.resource !== undefined) {
        if (!(cfg.resource || cfg.registration)) {
          return sendJson(res, 400, { error: 'resource needs "registration": true or a "resource" at start' });
        }
        if (body.resource !== null && !validResource(body.resource)) {
          return sendJson(res, 400, { error: 'resource must be an absolute URL or null' });
        }
        runtime.resource = body.resource;
      }
      if (body.resource_scopes !== undefined) {
        if (!validScopes(body.resource_scopes)) return sendJson(res, 400, { error: 'resource_scopes must be a non-empty array of scope tokens' });
        runtime.resourceScopes = body.resource_scopes;
      }
      if (body.iss_override !== undefined) {
        if (body.iss_override !== null && typeof body.iss_override !== 'string') {
          return sendJson(res, 400, { error: 'iss_override must be a string or null' });
        }
        runtime.issOverride = body.iss_override;
      }
    }
    return sendJson(res, 200, {
      access_ttl: runtime.accessTtl,
      refresh_ttl: runtime.refreshTtl,
      announce_refresh_ttl: runtime.announceRefreshTtl,
      refresh_delay_ms: runtime.refreshDelayMs,
      refuse_registration: runtime.refuseRegistration,
      strip_pkce_metadata: runtime.stripPkceMetadata,
      iss_override: runtime.issOverride,
      resource: runtime.resource,
      resource_scopes: runtime.resourceScopes,
    });
  }
  return sendJson(res, 404, { error: 'unknown control endpoint' });
}

const providerCallback = provider.callback();
httpServer.on('request', (req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path.startsWith('/__')) {
    control(req, res, path).catch((e) => sendJson(res, 500, { error: String(e) }));
    return;
  }
  providerCallback(req, res);
});

function shutdown(signal) {
  console.error(`oidc peer: ${signal}, shutting down`);
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

process.stdout.write(`${JSON.stringify({
  issuer,
  port,
  client_id: cfg.redirectUris.length ? cfg.clientId : null,
  discovery: `${issuer}/.well-known/openid-configuration`,
  authorization_endpoint: `${issuer}${paths.authorization}`,
  token_endpoint: `${issuer}${paths.token}`,
  revocation_endpoint: `${issuer}${paths.revocation}`,
  userinfo_endpoint: `${issuer}${paths.userinfo}`,
  stats: `${issuer}/__stats`,
  ...(cfg.registration ? {
    registration_endpoint: `${issuer}${paths.registration}`,
    oauth_metadata: `${issuer}/.well-known/oauth-authorization-server`,
  } : {}),
  ...(cfg.resource ? { resource: cfg.resource, resource_scopes: cfg.resourceScopes } : {}),
  ...(cfg.introspectionClientId ? {
    introspection_endpoint: `${issuer}${paths.introspection}`,
    introspection_client_id: cfg.introspectionClientId,
  } : {}),
})}\n`);
