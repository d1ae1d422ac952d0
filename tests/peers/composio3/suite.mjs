// keyport as the backend of the current Composio TypeScript SDK (@composio/core 0.19.0,
// v3.1 API), run by tests/it/sdk3.rs with the Node 22 of this directory: auth configs,
// connected accounts (API key; OAuth 2.0 through the real oidc-provider and Chromium, by
// initiate and by link), lists with filters and cursors, toolkits, tools, the proxy and the
// SDK's typed errors. Each check prints `ok: …` or `FAIL: …`; the network tally (every
// socket and DNS lookup the process makes must be loopback) and the totals come last.
import dns from 'node:dns';
import net from 'node:net';
import readline from 'node:readline';

const seen = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = typeof args[0] === 'object' && args[0] !== null ? args[0] : { host: args[1] };
  seen.push(String(options.host ?? options.path ?? 'localhost'));
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  seen.push(String(host));
  return lookup.call(this, host, ...rest);
};
const loopback = host => /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/i.test(host) || host.startsWith('/');

const { Composio, ComposioMultipleConnectedAccountsError, ComposioToolVersionRequiredError } =
  await import('@composio/core');
const { NotFoundError, BadRequestError } = await import('@composio/client');

const env = name => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();
const SERVER = env('KEYPORT_SERVER');
const GITHUB = env('KEYPORT_SDK_GITHUB');
const GITHUB_TOKEN = env('KEYPORT_SDK_GITHUB_TOKEN');
const IDP = env('KEYPORT_SDK_IDP');
const REDACTED = '********';
const composio = new Composio({
  apiKey: env('COMPOSIO_API_KEY'), baseURL: SERVER, allowTracking: false, disableVersionCheck: true,
});
const STATE = {};
const tally = { passed: 0, failed: 0 };
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function assert(ok, ...what) {
  if (!ok) throw new Error(`assertion failed: ${what.map(w => JSON.stringify(w)).join(' ')}`);
}

async function check(label, snippet) {
  try {
    await snippet();
    tally.passed += 1;
    console.log(`ok: ${label}`);
  } catch (error) {
    tally.failed += 1;
    console.log(`FAIL: ${label}\n${error?.stack ?? error}\ncause: ${error?.cause?.stack ?? error?.cause}`);
  }
}

/** Asks tests/it/sdk3.rs to complete the flow at `url` in Chromium, and waits for it. */
async function consent(url) {
  console.log(`CONSENT ${url}`);
  const { value } = await lines.next();
  assert(value?.trim() === 'DONE', value);
}

/** `call()` must reject with the SDK's `kind` (or an SDK error caused by it) whose message
 * carries each of `says` (keyport's message). */
async function expectError(kind, call, ...says) {
  try {
    await call();
  } catch (error) {
    const chain = [error, error?.cause].filter(Boolean);
    const found = chain.find(e => e instanceof kind);
    assert(found, `${kind.name} expected`, String(error));
    const text = chain.map(e => String(e?.message)).join(' | ');
    for (const part of says) assert(text.includes(part), part, text);
    return;
  }
  throw new Error(`expected ${kind.name}`);
}

async function githubRequests() {
  return (await fetch(`${GITHUB}/__requests`)).json();
}

const bearer = token => ({ authScheme: 'BEARER_TOKEN', val: { status: 'ACTIVE', token } });

await check('authConfigs.create: OAUTH2 with own client (the oidc-provider), API_KEY, BEARER_TOKEN', async () => {
  const gmail = await composio.authConfigs.create('gmail', {
    type: 'use_custom_auth', authScheme: 'OAUTH2', name: 'Gmail (TS)',
    credentials: {
      client_id: env('KEYPORT_SDK_CLIENT_ID'), client_secret: env('KEYPORT_SDK_CLIENT_SECRET'),
      authorization_url: `${IDP}/auth`, token_url: `${IDP}/token`,
      // The TS SDK types credentials as flat strings, numbers and booleans.
      revocation_url: `${IDP}/token/revocation`, scopes: 'openid',
    },
  });
  const notion = await composio.authConfigs.create('notion', {
    type: 'use_custom_auth', authScheme: 'API_KEY', credentials: {},
  });
  const github = await composio.authConfigs.create('github', {
    type: 'use_custom_auth', authScheme: 'BEARER_TOKEN', credentials: { base_url: GITHUB },
  });
  for (const created of [gmail, notion, github]) assert(created.id.startsWith('ac_'), created);
  const got = await composio.authConfigs.get(gmail.id);
  assert(got.name === 'Gmail (TS)' && got.status === 'ENABLED' && got.authScheme === 'OAUTH2', got);
  assert(got.credentials.client_secret === REDACTED, got.credentials);
  Object.assign(STATE, { gmail: gmail.id, notion: notion.id, github: github.id });
});

await check('initiate with an API key -> ACTIVE at once', async () => {
  const request = await composio.connectedAccounts.initiate('alice', STATE.notion, {
    config: { authScheme: 'API_KEY', val: { status: 'ACTIVE', api_key: 'secret_notion_ts' } },
  });
  assert(request.status === 'ACTIVE', request);
  const account = await composio.connectedAccounts.get(request.id);
  assert(account.status === 'ACTIVE' && account.toolkit.slug === 'notion', account);
  assert(account.authConfig.id === STATE.notion, account.authConfig);
  STATE.notionAlice = request.id;
});

await check('initiate OAUTH2 -> connect link -> Chromium -> waitForConnection ACTIVE', async () => {
  const request = await composio.connectedAccounts.initiate('alice', STATE.gmail);
  assert(request.status === 'INITIATED' && request.redirectUrl.startsWith(`${SERVER}/connect/`), request);
  await consent(request.redirectUrl);
  const account = await request.waitForConnection(20000);
  assert(account.status === 'ACTIVE' && account.id === request.id, account);
  STATE.gmailAlice = request.id;
});

await check('link() -> connect URL -> Chromium -> ACTIVE', async () => {
  const request = await composio.connectedAccounts.link('bob', STATE.gmail);
  assert(request.redirectUrl.startsWith(`${SERVER}/connect/`), request);
  await consent(request.redirectUrl);
  const account = await composio.connectedAccounts.waitForConnection(request.id, 20000);
  assert(account.status === 'ACTIVE', account);
});

await check('initiate() for a user with an ACTIVE account refuses unless allowMultiple', async () => {
  await expectError(ComposioMultipleConnectedAccountsError,
    () => composio.connectedAccounts.initiate('alice', STATE.gmail), 'allowMultiple');
  const second = await composio.connectedAccounts.initiate('alice', STATE.gmail, { allowMultiple: true });
  assert(second.status === 'INITIATED' && second.id !== STATE.gmailAlice, second);
  await composio.connectedAccounts.delete(second.id);
});

await check('list: userIds, authConfigIds, toolkitSlugs, statuses; a cursor walk over 3 pages', async () => {
  const made = [];
  for (let n = 0; n < 5; n += 1) {
    made.push((await composio.connectedAccounts.initiate(`walker-${n}`, STATE.github, { config: bearer(GITHUB_TOKEN) })).id);
  }
  const ids = [];
  const pages = [];
  let cursor;
  do {
    const page = await composio.connectedAccounts.list({ authConfigIds: [STATE.github], limit: 2, cursor });
    ids.push(...page.items.map(i => i.id));
    pages.push([page.items.length, page.totalPages]);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  assert(JSON.stringify(ids) === JSON.stringify(made), ids, made);
  assert(JSON.stringify(pages) === '[[2,3],[2,3],[1,3]]', pages);
  const two = await composio.connectedAccounts.list({ userIds: ['walker-1', 'walker-3'] });
  assert(JSON.stringify(two.items.map(i => i.id)) === JSON.stringify([made[1], made[3]]), two.items);
  const notion = await composio.connectedAccounts.list({ toolkitSlugs: ['notion'] });
  assert(notion.items.length === 1 && notion.items[0].id === STATE.notionAlice, notion.items);
  const active = await composio.connectedAccounts.list({ userIds: ['alice'], statuses: ['ACTIVE'] });
  assert(active.items.length === 2, active.items);
  STATE.walkers = made;
});

await check('disable / enable / delete a connected account; an auth config too', async () => {
  const [first, , , , last] = STATE.walkers;
  await composio.connectedAccounts.disable(first);
  assert((await composio.connectedAccounts.get(first)).status === 'INACTIVE');
  await composio.connectedAccounts.enable(first);
  assert((await composio.connectedAccounts.get(first)).status === 'ACTIVE');
  await composio.connectedAccounts.delete(last);
  assert((await composio.connectedAccounts.get(last)).status === 'REVOKED');
  await composio.authConfigs.disable(STATE.notion);
  assert((await composio.authConfigs.get(STATE.notion)).status === 'DISABLED');
  await composio.authConfigs.enable(STATE.notion);
  assert((await composio.authConfigs.get(STATE.notion)).status === 'ENABLED');
});

await check('toolkits: get, list', async () => {
  const github = await composio.toolkits.get('github');
  assert(github.slug === 'github' && github.name === 'GitHub', github);
  const page = await composio.toolkits.get({ limit: 5 });
  assert(Array.isArray(page) && page.length === 5, page);
});

await check('tools: a new toolkit lists its tools with their schemas', async () => {
  const tools = await composio.tools.getRawComposioTools({ toolkits: ['trello'] });
  const slugs = tools.map((t) => t.slug);
  assert(slugs.includes('TRELLO_CREATE_CARD') && slugs.includes('TRELLO_GET_MY_BOARDS'), slugs);
  const card = tools.find((t) => t.slug === 'TRELLO_CREATE_CARD');
  assert(card.inputParameters.required.includes('idList'), card);
});

await check('tools.execute GITHUB_CREATE_AN_ISSUE with a version; tools.proxyExecute with a header', async () => {
  const tool = await composio.tools.getRawComposioToolBySlug('GITHUB_CREATE_AN_ISSUE');
  await expectError(ComposioToolVersionRequiredError, () => composio.tools.execute('GITHUB_CREATE_AN_ISSUE', {
    userId: 'walker-1', arguments: { owner: 'o', repo: 'r', title: 't' },
  }));
  const result = await composio.tools.execute('GITHUB_CREATE_AN_ISSUE', {
    userId: 'walker-1', version: tool.version,
    arguments: { owner: 'keyport', repo: 'ts-test', title: 'Opened from TypeScript' },
  });
  assert(result.successful === true && result.data.title === 'Opened from TypeScript', result);
  const [sent] = (await githubRequests()).filter(r => r.method === 'POST');
  assert(sent.path === '/repos/keyport/ts-test/issues', sent);
  assert(sent.headers.authorization === `Bearer ${GITHUB_TOKEN}`, sent.headers);
  assert(JSON.stringify(sent.body) === '{"title":"Opened from TypeScript"}', sent.body);
  const answer = await composio.tools.proxyExecute({
    endpoint: '/user', method: 'GET', connectedAccountId: STATE.walkers[2],
    parameters: [{ in: 'header', name: 'X-Keyport-Check', value: 'ts-proxy' }],
  });
  assert(answer.status === 200 && answer.data.login === 'keyport-octocat', answer);
  const last = (await githubRequests()).at(-1);
  assert(last.headers['x-keyport-check'] === 'ts-proxy', last.headers);
});

await check("bad input raises the SDK's own typed errors with keyport's message", async () => {
  const unknown = `ac_${'0'.repeat(32)}`;
  await expectError(NotFoundError, () => composio.authConfigs.get(unknown), 'not found');
  await expectError(NotFoundError, () => composio.connectedAccounts.initiate('dave', unknown), 'not found');
  await expectError(NotFoundError, () => composio.authConfigs.create('no-such-toolkit', {
    type: 'use_custom_auth', authScheme: 'API_KEY', credentials: {} }), 'no-such-toolkit');
  await expectError(BadRequestError, () => composio.authConfigs.create('gmail', {
    type: 'use_composio_managed_auth' }), 'client_id', 'client_secret');
  await expectError(BadRequestError, () => composio.connectedAccounts.initiate('dave', STATE.github, {
    config: { authScheme: 'API_KEY', val: { status: 'ACTIVE', api_key: 'k' } } }), 'API_KEY', 'BEARER_TOKEN');
  await expectError(BadRequestError, () => composio.connectedAccounts.initiate('dave', STATE.notion, {
    config: { authScheme: 'API_KEY', val: { status: 'ACTIVE' } } }), 'api_key');
  await expectError(BadRequestError, () => composio.tools.execute('GITHUB_GET_THE_AUTHENTICATED_USER', {
    userId: 'walker-1', version: '1.0.0', arguments: {},
    customAuthParams: { parameters: [{ in: 'header', name: 'Authorization', value: 'x' }] },
  }), 'custom_auth_params');
});

const outside = [...new Set(seen.filter(host => !loopback(host)))];
if (outside.length > 0) {
  tally.failed += 1;
  console.log(`FAIL: network: attempts to leave the machine: ${JSON.stringify(outside)}`);
} else {
  tally.passed += 1;
  console.log(`network: ${seen.length} connection attempts, all loopback`);
}
console.log(`${tally.passed} passed, ${tally.failed} failed`);
process.exit(tally.failed === 0 ? 0 : 1);
