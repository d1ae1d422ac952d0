#!/usr/bin/env node
// keyport test peer: click through an OAuth authorization flow like a user,
// in Debian's headless Chromium driven by playwright-core.
//
//   node drive.js <url> [--expect-text TEXT] [--screenshot out.png] [--deny]
//                       [--timeout SECONDS] [--login NAME] [--password PW]
//                       [--click SELECTOR]
//
// Opens <url> (a keyport page that navigates to the provider's authorization
// URL by 302, meta refresh, JS or, with --click, a link the user clicks),
// signs in on oidc-provider's dev login page, approves consent (or with
// --deny presses "[ Cancel ]", so the provider redirects back with
// error=access_denied), follows the redirect back to the redirect_uri and
// prints one JSON line:
//   {"finalUrl":"…","status":200,"title":"…","text":"<body innerText, ≤2000 chars>"}
// Exit codes: 0 ok; 1 timeout, browser/provider error or --expect-text not
// found (message on stderr); 2 bad usage.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const USAGE = 'usage: node drive.js <url> [--expect-text TEXT] [--screenshot out.png] [--deny] '
  + '[--timeout SECONDS] [--login NAME] [--password PW] [--click SELECTOR]';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let opts;
let url;
try {
  const parsed = parseArgs({
    allowPositionals: true,
    options: {
      'expect-text': { type: 'string' },
      screenshot: { type: 'string' },
      deny: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30' },
      login: { type: 'string', default: 'keyport-user' },
      password: { type: 'string', default: 'any-password' },
      click: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  opts = parsed.values;
  if (opts.help) {
    console.error(USAGE);
    process.exit(0);
  }
  if (parsed.positionals.length !== 1) throw new Error('exactly one <url> is required');
  url = new URL(parsed.positionals[0]).toString();
} catch (e) {
  console.error(`drive.js: ${e.message}\n${USAGE}`);
  process.exit(2);
}
const timeoutMs = Number(opts.timeout) * 1000;
if (!(timeoutMs > 0)) {
  console.error(`drive.js: --timeout must be a positive number of seconds\n${USAGE}`);
  process.exit(2);
}

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const deadline = Date.now() + timeoutMs;
const remaining = () => Math.max(1, deadline - Date.now());
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const log = (msg) => { if (process.env.DRIVE_DEBUG) console.error(`drive.js: ${msg}`); };

class DriveError extends Error {}

function isLoopback(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyport-drive-'));
let context;
let lastStatus = null;
let lastNavUrl = null; // last main-frame navigation request, for error messages

async function cleanup() {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

// Hard stop: whatever is hanging, the process ends non-zero after the timeout
// (plus a grace period for the normal timeout handling to report first).
const hardStop = setTimeout(() => {
  console.error(`drive.js: timeout after ${opts.timeout}s (hard stop)`);
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}, timeoutMs + 10_000);
hardStop.unref();

async function snapshot(page) {
  let title = '';
  let text = '';
  for (let i = 0; i < 10; i += 1) {
    try {
      title = await page.title();
      text = await page.evaluate(() => (document.body ? document.body.innerText : ''));
      break;
    } catch {
      // page navigating right now: retry shortly
      await sleep(200);
    }
  }
  return { title, text: text.length > 2000 ? text.slice(0, 2000) : text };
}

// What kind of page is shown: oidc-provider dev "login" / "consent" forms,
// its error page, or anything else.
async function pageKind(page) {
  for (let i = 0; i < 20; i += 1) {
    try {
      await page.waitForLoadState('load', { timeout: remaining() });
      return await page.evaluate(() => {
        const prompt = document.querySelector('form input[type=hidden][name=prompt]');
        if (prompt && (prompt.value === 'login' || prompt.value === 'consent')) return prompt.value;
        if (document.title === 'oops! something went wrong') return 'provider-error';
        return 'other';
      });
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await sleep(150); // execution context destroyed by a navigation: retry
    }
  }
  return 'other';
}

async function waitForUrlChange(page, from) {
  await page.waitForURL((u) => u.toString() !== from, { timeout: remaining(), waitUntil: 'commit' });
}

function looksLikeCallback(href) {
  const u = new URL(href);
  return u.searchParams.has('state') && (u.searchParams.has('code') || u.searchParams.has('error'));
}

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    chromiumSandbox: false,
    timeout: remaining(),
    viewport: { width: 1000, height: 800 },
  });
  // Never leave the machine: everything but loopback (e.g. the web font the
  // dev pages import) is refused on the spot.
  await context.route('**/*', (route) => {
    let ok = false;
    try {
      ok = isLoopback(new URL(route.request().url()).hostname);
    } catch { /* not a URL we know: refuse */ }
    return ok ? route.continue() : route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(timeoutMs);

  page.on('request', (req) => {
    try {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) lastNavUrl = req.url();
    } catch { /* detached frame */ }
  });
  page.on('response', (res) => {
    try {
      if (res.request().isNavigationRequest() && res.frame() === page.mainFrame()) lastStatus = res.status();
    } catch { /* detached frame */ }
  });

  log(`goto ${url}`);
  try {
    await page.goto(url, { waitUntil: 'load', timeout: remaining() });
  } catch (e) {
    // A meta/JS redirect can interrupt the first navigation; carry on from
    // wherever the page is now. Anything else is fatal.
    if (!/interrupted|ERR_ABORTED|frame was detached/i.test(e.message)) throw e;
    log(`first navigation interrupted: ${e.message.split('\n')[0]}`);
  }
  if (opts.click) {
    log(`click ${opts.click}`);
    await page.locator(opts.click).first().click({ timeout: remaining() });
  }

  let providerOrigin = null;
  let interacted = false; // consent approved or denied
  const seen = { login: 0, consent: 0 };

  for (;;) {
    if (Date.now() >= deadline) throw new DriveError('timeout');
    const kind = await pageKind(page);
    const here = page.url();
    log(`page ${kind} ${here}`);

    if (kind === 'provider-error') {
      const { text } = await snapshot(page);
      throw new DriveError(`the provider shows an error page at ${here}: ${text.replace(/\s+/g, ' ').trim()}`);
    }

    if (kind === 'login' || kind === 'consent') {
      providerOrigin = new URL(here).origin;
      seen[kind] += 1;
      if (seen[kind] > 5) throw new DriveError(`stuck on the provider ${kind} page at ${here}`);
      if (kind === 'login') {
        await page.fill('form input[name=login]', opts.login);
        await page.fill('form input[name=password]', opts.password);
        await Promise.all([waitForUrlChange(page, here), page.click('form button[type=submit]', { noWaitAfter: true })]);
      } else if (opts.deny) {
        await Promise.all([waitForUrlChange(page, here), page.click('a[href*="/abort"]', { noWaitAfter: true })]);
        interacted = true;
      } else {
        await Promise.all([waitForUrlChange(page, here), page.click('form button[type=submit]', { noWaitAfter: true })]);
        interacted = true;
      }
      continue;
    }

    // kind === 'other'
    const onProvider = providerOrigin && new URL(here).origin === providerOrigin;
    if ((interacted && !onProvider) || looksLikeCallback(here)) break;
    if (interacted && onProvider) {
      // mid-redirect on the provider: give it a moment, then take what is there
      try {
        await page.waitForURL((u) => u.toString() !== here, { timeout: Math.min(3000, remaining()), waitUntil: 'commit' });
        continue;
      } catch {
        break;
      }
    }
    // Not at the provider yet: the start page must navigate there by itself.
    try {
      await waitForUrlChange(page, here);
    } catch {
      const { title, text } = await snapshot(page);
      throw new DriveError(`page ${here} (title ${JSON.stringify(title)}) never navigated on to the provider; `
        + `text: ${text.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
    }
  }

  // Final page: let its scripts settle, then optionally wait for the text.
  // (with --expect-text the poll below does the waiting instead)
  if (opts['expect-text'] === undefined) {
    await page.waitForLoadState('networkidle', { timeout: Math.min(3000, remaining()) }).catch(() => {});
  }
  let snap = await snapshot(page);
  if (opts['expect-text'] !== undefined) {
    while (!snap.text.includes(opts['expect-text']) && Date.now() < deadline) {
      await sleep(200);
      snap = await snapshot(page);
    }
  }
  const result = { finalUrl: page.url(), status: lastStatus, title: snap.title, text: snap.text };
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (opts['expect-text'] !== undefined && !snap.text.includes(opts['expect-text'])) {
    throw new DriveError(`final page ${result.finalUrl} does not contain ${JSON.stringify(opts['expect-text'])} `
      + `within ${opts.timeout}s`);
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  const msg = e instanceof DriveError ? e.message : (e?.message ?? String(e)).split('\n')[0];
  const isTimeout = Date.now() >= deadline || /Timeout \d+ms exceeded/.test(msg);
  console.error(`drive.js: ${isTimeout ? `timeout after ${opts.timeout}s: ` : ''}${msg}`);
  if (/net::ERR_/.test(msg) && lastNavUrl) console.error(`drive.js: the failed navigation was to ${lastNavUrl}`);
  try {
    const page = context?.pages()[0];
    if (page) {
      const { title, text } = await snapshot(page);
      console.error(`drive.js: page at failure: ${page.url()} title=${JSON.stringify(title)} text=${JSON.stringify(text.slice(0, 500))}`);
      if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true }).catch(() => {});
    }
  } catch { /* best effort */ }
}
await cleanup();
process.exit(code);
