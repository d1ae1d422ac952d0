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
  };
  if (!Array.isArray(cfg.redirectUris) || cfg.redirectUris.length === 0) fail('at least one --redirect-uri is required');
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
const { default: Provider } = await import('oidc-provider');

// Settings /__config changes while the peer runs. `refreshTtl` is each refresh token's
// lifetime from its issue; with rotation every refresh issues a new one with the full
// lifetime, so it is an idle limit (the grant itself keeps --refresh-ttl). With
// `announceRefreshTtl` the token response says it (`refresh_token_expires_in`).
const runtime = { accessTtl: cfg.accessTtl, refreshTtl: cfg.refreshTtl, announceRefreshTtl: false, refreshDelayMs: 0 };

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
    {
      client_id: cfg.clientId,
      client_secret: cfg.clientSecret,
      redirect_uris: cfg.redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: cfg.authMethod,
      application_type: cfg.applicationType,
      scope: 'openid offline_access profile email api:read',
    },
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
const paths = { token: '/token', revocation: '/token/revocation', authorization: '/auth', userinfo: '/me' };
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
      logRequest({ endpoint: 'token', grant_type: gt ?? null, status, error, client_auth: clientAuthUsed(ctx) });
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
      });
    } else if (path === paths.userinfo) {
      stats.userinfo += 1;
      logRequest({ endpoint: 'userinfo', status, error });
    }
  }
});

// oidc-provider accepts client_secret_basic and client_secret_post
// interchangeably whichever one the client registered. Unless --lenient-auth,
// hold the client to its registered method, as strict providers do, so tests
// notice when keyport authenticates the wrong way.
const clientAuthPaths = new Set([paths.token, paths.revocation, '/token/introspection']);
provider.use(async (ctx, next) => {
  if (cfg.lenientAuth || ctx.method !== 'POST' || !clientAuthPaths.has(ctx.path)) return next();
  const usesBasic = /^basic /i.test(ctx.get('authorization') || '');
  if (usesBasic === (cfg.authMethod === 'client_secret_basic')) return next();
  // Mismatch: answer here. Read the form body only so the stats can tell
  // which grant_type / token_type_hint was asked for.
  const chunks = [];
  for await (const c of ctx.req) chunks.push(c);
  ctx.state.peerBody = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  ctx.status = 401;
  if (usesBasic) ctx.set('www-authenticate', 'Basic realm="oidc-peer"');
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'invalid_client',
    error_description: `client authentication failed: this client is registered for ${cfg.authMethod}`,
  };
  return undefined;
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
    }
    return sendJson(res, 200, {
      access_ttl: runtime.accessTtl,
      refresh_ttl: runtime.refreshTtl,
      announce_refresh_ttl: runtime.announceRefreshTtl,
      refresh_delay_ms: runtime.refreshDelayMs,
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
  client_id: cfg.clientId,
  discovery: `${issuer}/.well-known/openid-configuration`,
  authorization_endpoint: `${issuer}${paths.authorization}`,
  token_endpoint: `${issuer}${paths.token}`,
  revocation_endpoint: `${issuer}${paths.revocation}`,
  userinfo_endpoint: `${issuer}${paths.userinfo}`,
  stats: `${issuer}/__stats`,
})}\n`);
