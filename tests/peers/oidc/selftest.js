#!/usr/bin/env node
// Self-test for the keyport OIDC test peer: a stand-in "keyport" (redirect
// target + OAuth client) on 127.0.0.1, server.js as the provider and drive.js
// as the user. `node selftest.js` exits 0 when everything holds.
//
// Env: SELFTEST_SCREENSHOTS=DIR keeps a PNG of each final page in DIR.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const started = Date.now();
const CLIENT_ID = 'selftest-client';
const CLIENT_SECRET = 'selftest-secret-0123456789';
const ACCESS_TTL = 2;
const shotDir = process.env.SELFTEST_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-selftest-'));
fs.mkdirSync(shotDir, { recursive: true });

let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok - ${name}${detail !== undefined ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
}
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const b64url = (buf) => buf.toString('base64url');

// ------------------------------------------------------------ children
const children = new Set();
function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'server.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const lines = [];
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      lines.push(l);
      if (lines.length === 1) {
        try {
          resolve({ child, info: JSON.parse(l), lines, stderr: () => stderr });
        } catch (e) {
          reject(new Error(`server printed a non-JSON line: ${l}`));
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${stderr}`)));
    setTimeout(() => reject(new Error(`server did not report readiness in 10s: ${stderr}`)), 10_000).unref();
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); });
    child.kill('SIGTERM');
  });
}

function drive(args) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(here, 'drive.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => {
      children.delete(child);
      let json = null;
      try { json = JSON.parse(out.trim().split('\n').pop()); } catch { /* left null */ }
      resolve({ code, json, out, err, ms: Date.now() - t0 });
    });
  });
}

process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

// ------------------------------------------------------------ stand-in keyport
// Plays keyport: /start* sends the browser to the provider with state + PKCE
// S256, /callback exchanges the code and shows "Connected".
let issuer; // set once the provider is up
let authMethod = 'client_secret_post';
const flows = new Map(); // state -> { verifier, tokens, callbackQuery, tokenStatus }
const callbacks = []; // every callback hit, in order

function formPost(url, form, { basic } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (basic) {
    const enc = (s) => encodeURIComponent(s); // RFC 6749 2.3.1
    headers.authorization = `Basic ${Buffer.from(`${enc(CLIENT_ID)}:${enc(CLIENT_SECRET)}`).toString('base64')}`;
  } else {
    body.set('client_id', CLIENT_ID);
    body.set('client_secret', CLIENT_SECRET);
  }
  return fetch(url, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: await r.text().then((t) => { try { return JSON.parse(t); } catch { return t; } }) }));
}

function authorizationUrl(redirectUri, { prompt = 'consent', scope = 'openid offline_access profile email' } = {}) {
  const state = b64url(crypto.randomBytes(16));
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  flows.set(state, { verifier });
  const u = new URL(`${issuer}/auth`);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(prompt ? { prompt } : {}),
  }).toString();
  return { url: u.toString(), state };
}

const html = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const keyport = http.createServer(async (req, res) => {
  const u = new URL(req.url, `http://${req.headers.host}`);
  const redirectUri = `http://127.0.0.1:${keyport.address().port}/callback`;
  const prompt = u.searchParams.has('noprompt') ? null : 'consent';
  try {
    if (u.pathname === '/start') { // 302
      res.writeHead(302, { location: authorizationUrl(redirectUri, { prompt }).url }).end();
    } else if (u.pathname === '/start-meta') { // meta refresh
      res.writeHead(200, { 'content-type': 'text/html' }).end(html('Redirecting', `<meta http-equiv="refresh" content="0;url=${authorizationUrl(redirectUri, { prompt }).url.replaceAll('&', '&amp;')}">`));
    } else if (u.pathname === '/start-js') { // script
      res.writeHead(200, { 'content-type': 'text/html' }).end(html('Redirecting', `<script>location.href=${JSON.stringify(authorizationUrl(redirectUri, { prompt }).url)}</script>`));
    } else if (u.pathname === '/start-link') { // link the user clicks
      res.writeHead(200, { 'content-type': 'text/html' }).end(html('Connect', `<a id="go" href="${authorizationUrl(redirectUri, { prompt }).url.replaceAll('&', '&amp;')}">Connect to testidp</a>`));
    } else if (u.pathname === '/callback') {
      const q = Object.fromEntries(u.searchParams);
      callbacks.push(q);
      const flow = flows.get(q.state);
      if (!flow) {
        res.writeHead(400, { 'content-type': 'text/html' }).end(html('Bad state', 'unknown state'));
        return;
      }
      flow.callbackQuery = q;
      if (q.error) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(html('Not connected', `Authorization failed: ${q.error}`));
        return;
      }
      const r = await formPost(`${issuer}/token`, {
        grant_type: 'authorization_code', code: q.code, redirect_uri: redirectUri, code_verifier: flow.verifier,
      }, { basic: authMethod === 'client_secret_basic' });
      flow.tokenStatus = r.status;
      flow.tokens = r.body;
      if (r.status === 200) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(html('Connected', `<h1>Connected</h1><p>refresh token: ${r.body.refresh_token ? 'yes' : 'no'}</p>`));
      } else {
        res.writeHead(502, { 'content-type': 'text/html' }).end(html('Token exchange failed', JSON.stringify(r.body)));
      }
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});

// ------------------------------------------------------------ the test
async function main() {
  await new Promise((r) => { keyport.listen(0, '127.0.0.1', r); });
  const kp = `http://127.0.0.1:${keyport.address().port}`;
  const redirectUri = `${kp}/callback`;

  const srv = await startServer(['--port', '0', '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET,
    '--redirect-uri', redirectUri, '--access-ttl', String(ACCESS_TTL)]);
  issuer = srv.info.issuer;
  check('server prints one JSON line with issuer and port', srv.info.issuer === `http://127.0.0.1:${srv.info.port}` && srv.info.port > 0, srv.info);
  const stats = () => fetch(`${issuer}/__stats`).then((r) => r.json());
  const post = (p, body) => fetch(`${issuer}${p}`, { method: 'POST', ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) }).then((r) => r.json());

  const disco = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
  check('discovery: issuer, /auth, /token, /token/revocation, S256, iss param', disco.issuer === issuer
    && disco.authorization_endpoint === `${issuer}/auth` && disco.token_endpoint === `${issuer}/token`
    && disco.revocation_endpoint === `${issuer}/token/revocation`
    && JSON.stringify(disco.code_challenge_methods_supported) === '["S256"]'
    && disco.authorization_response_iss_parameter_supported === true, disco);

  // --- plain HTTP checks of the authorization endpoint
  {
    const { url } = authorizationUrl(redirectUri);
    const noPkce = new URL(url);
    noPkce.searchParams.delete('code_challenge');
    noPkce.searchParams.delete('code_challenge_method');
    const r = await fetch(noPkce, { redirect: 'manual' });
    const loc = new URL(r.headers.get('location') ?? 'http://x/');
    check('PKCE required: /auth without code_challenge redirects back with invalid_request + iss',
      r.status === 303 && loc.searchParams.get('error') === 'invalid_request' && loc.searchParams.get('iss') === issuer,
      `${r.status} ${r.headers.get('location')}`);

    const wrongPort = new URL(url);
    wrongPort.searchParams.set('redirect_uri', `http://127.0.0.1:${keyport.address().port + 1}/callback`);
    const r2 = await fetch(wrongPort, { redirect: 'manual' });
    check('redirect_uri must match exactly (other port -> 400 error page, no redirect)', r2.status === 400 && !r2.headers.get('location'), r2.status);
  }

  // --- A: approve via 302 start page
  const a = await drive([`${kp}/start`, '--expect-text', 'Connected', '--screenshot', path.join(shotDir, 'approve.png')]);
  check(`drive.js approve exits 0 (${a.ms} ms)`, a.code === 0, a.err);
  check('drive.js JSON line: finalUrl at callback, status 200, title, text', a.json?.finalUrl?.startsWith(`${redirectUri}?`)
    && a.json.status === 200 && a.json.title === 'Connected' && a.json.text.includes('Connected'), a.json ?? a.out);
  check('screenshot written', fs.existsSync(path.join(shotDir, 'approve.png')) && fs.statSync(path.join(shotDir, 'approve.png')).size > 1000);
  const flowA = [...flows.values()].find((f) => f.tokens?.access_token && f.callbackQuery);
  check('authorization response carries iss (RFC 9207) and state', flowA?.callbackQuery?.iss === issuer && !!flowA.callbackQuery.code, flowA?.callbackQuery);
  const tA = flowA?.tokens ?? {};
  check('code exchange: access_token, refresh_token, id_token, expires_in = access TTL',
    !!tA.access_token && !!tA.refresh_token && !!tA.id_token && tA.expires_in === ACCESS_TTL && /offline_access/.test(tA.scope), tA);

  const userinfo = (at) => fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${at}` } });
  const ui = await userinfo(tA.access_token);
  const uiBody = await ui.json().catch(() => null);
  check('userinfo with the access token', ui.status === 200 && uiBody?.sub === 'keyport-user' && uiBody?.email === 'keyport-user@example.test', uiBody);

  // rotation
  const r1 = await formPost(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tA.refresh_token });
  check('refresh #1 returns new access + new refresh token', r1.status === 200 && !!r1.body.access_token
    && !!r1.body.refresh_token && r1.body.refresh_token !== tA.refresh_token, r1);
  const r2 = await formPost(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token });
  check('refresh #2 (with the rotated token) returns yet another refresh token', r2.status === 200
    && !!r2.body.refresh_token && r2.body.refresh_token !== r1.body.refresh_token, r2);

  // access-token TTL
  await sleep(ACCESS_TTL * 1000 + 600);
  const uiExpired = await userinfo(r2.body.access_token);
  check(`access token expires after --access-ttl ${ACCESS_TTL}s (userinfo 401)`, uiExpired.status === 401, uiExpired.status);

  // revocation (RFC 7009)
  const rv = await formPost(`${issuer}/token/revocation`, { token: r2.body.refresh_token, token_type_hint: 'refresh_token' });
  check('revocation endpoint answers 200', rv.status === 200, rv);
  const r3 = await formPost(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: r2.body.refresh_token });
  check('revoked refresh token -> invalid_grant', r3.status === 400 && r3.body.error === 'invalid_grant', r3);
  const r4 = await formPost(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: tA.refresh_token });
  check('first (rotated-away) refresh token is refused -> invalid_grant', r4.status === 400 && r4.body.error === 'invalid_grant', r4);

  // --- B: deny via meta-refresh start page
  const b = await drive([`${kp}/start-meta`, '--deny', '--expect-text', 'access_denied']);
  check(`drive.js --deny exits 0 (${b.ms} ms)`, b.code === 0, b.err);
  const denied = callbacks.at(-1) ?? {};
  check('deny: callback gets error=access_denied, state and iss', denied.error === 'access_denied' && !!denied.state
    && denied.iss === issuer && b.json?.finalUrl?.includes('error=access_denied'), { denied, json: b.json });

  // --- C: JS start page without prompt=consent: no refresh token (oidc-provider drops offline_access)
  const c = await drive([`${kp}/start-js?noprompt`, '--expect-text', 'Connected']);
  const flowC = flows.get(callbacks.at(-1)?.state);
  check(`drive.js via JS redirect exits 0 (${c.ms} ms)`, c.code === 0 && c.json?.title === 'Connected', c.err || c.json);
  check('without prompt=consent: access token but no refresh token', !!flowC?.tokens?.access_token && !flowC.tokens.refresh_token, flowC?.tokens);
  const rvAt = await formPost(`${issuer}/token/revocation`, { token: flowC?.tokens?.access_token, token_type_hint: 'access_token' });
  const uiRevoked = await userinfo(flowC?.tokens?.access_token);
  check('revoked access token no longer works at userinfo', rvAt.status === 200 && uiRevoked.status === 401, { rvAt, ui: uiRevoked.status });

  // --- D: link the user clicks; then /__revoke_all
  const d = await drive([`${kp}/start-link`, '--click', '#go', '--expect-text', 'Connected']);
  const flowD = flows.get(callbacks.at(-1)?.state);
  check(`drive.js via clicked link exits 0 (${d.ms} ms)`, d.code === 0 && !!flowD?.tokens?.refresh_token, d.err || flowD?.tokens);
  const ra = await post('/__revoke_all');
  check('POST /__revoke_all revokes the grants', ra.ok === true && ra.revoked_grants >= 1, ra);
  const r5 = await formPost(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: flowD?.tokens?.refresh_token });
  check('after /__revoke_all the refresh token -> invalid_grant', r5.status === 400 && r5.body.error === 'invalid_grant', r5);

  // client credentials
  const cc = await formPost(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'api:read' });
  check('client_credentials with scope api:read', cc.status === 200 && cc.body.scope === 'api:read' && cc.body.expires_in === ACCESS_TTL, cc);
  const ccBasic = await formPost(`${issuer}/token`, { grant_type: 'client_credentials' }, { basic: true });
  check('client_secret_post client refuses basic auth -> invalid_client', ccBasic.status === 401 && ccBasic.body.error === 'invalid_client', ccBasic);

  // drive.js failure path: a start page that never reaches the provider
  const f = await drive([`${kp}/nowhere`, '--timeout', '3']);
  check('drive.js exits non-zero with a message when the flow cannot proceed', f.code === 1 && /drive\.js: /.test(f.err), f);

  // --- stats
  const s = await stats();
  const expect = {
    token: { authorization_code: 3, refresh_token: 5, client_credentials: 2, other: 0 },
    token_errors: { authorization_code: 0, refresh_token: 3, client_credentials: 1, other: 0 },
    revocation: 2,
    revoked_tokens: ['refresh_token', 'access_token'],
    authorization: 6, // 2 plain fetches + A, B, C, D
  };
  for (const [k, v] of Object.entries(expect)) {
    check(`stats.${k} = ${JSON.stringify(v)}`, JSON.stringify(s[k]) === JSON.stringify(v), s[k]);
  }
  const authLog = s.requests.filter((e) => e.endpoint === 'authorization');
  check('stats log shows PKCE S256 + state on the authorization requests',
    authLog.slice(2).every((e) => e.code_challenge_method === 'S256' && e.state_present && e.redirect_uri === redirectUri), authLog);
  check('stats log records the client auth method used', s.requests.filter((e) => e.endpoint === 'token').map((e) => e.client_auth).join(',')
    === 'client_secret_post,'.repeat(9) + 'client_secret_basic', s.requests.filter((e) => e.endpoint === 'token'));
  await post('/__reset');
  const z = await stats();
  check('POST /__reset zeroes the counts', z.token.authorization_code === 0 && z.token.refresh_token === 0
    && z.revocation === 0 && z.revoked_tokens.length === 0 && z.requests.length === 0, z);

  // runtime access TTL change
  const cfg = await post('/__config', { access_ttl: 7 });
  const cc2 = await formPost(`${issuer}/token`, { grant_type: 'client_credentials' });
  check('POST /__config {"access_ttl":7} applies to new tokens', cfg.access_ttl === 7 && cc2.body.expires_in === 7, { cfg, cc2 });

  check('server printed exactly one stdout line', srv.lines.length === 1, srv.lines);
  const stop = await stopServer(srv.child);
  check('server exits 0 on SIGTERM', stop.code === 0, stop);

  // --- second server: client_secret_basic, env-var config
  const srv2 = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'server.js')], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: {
        ...process.env,
        OIDC_PEER_CONFIG: JSON.stringify({
          port: 0, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [redirectUri], token_endpoint_auth_method: 'client_secret_basic',
        }),
      },
    });
    children.add(child);
    readline.createInterface({ input: child.stdout }).once('line', (l) => resolve({ child, info: JSON.parse(l) }));
    child.once('exit', (code) => reject(new Error(`second server exited ${code}`)));
  });
  const basicOk = await formPost(`${srv2.info.token_endpoint}`, { grant_type: 'client_credentials' }, { basic: true });
  const postRefused = await formPost(`${srv2.info.token_endpoint}`, { grant_type: 'client_credentials' });
  check('OIDC_PEER_CONFIG + client_secret_basic: basic accepted, post refused', basicOk.status === 200 && postRefused.status === 401, { basicOk, postRefused });
  await stopServer(srv2.child);
}

try {
  await main();
} catch (e) {
  failed += 1;
  console.log(`not ok - selftest crashed: ${e.stack ?? e}`);
}
keyport.close();
keyport.closeAllConnections();
for (const c of children) c.kill('SIGTERM');
if (!process.env.SELFTEST_SCREENSHOTS) fs.rmSync(shotDir, { recursive: true, force: true });
console.log(`selftest took ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
