#!/usr/bin/env node
// keyport test peer: open a keyport page in Debian's headless Chromium (playwright-core),
// check it shows a text, click one element as a user would, and report where that led.
//
//   node click.js <url> --expect-text TEXT --click SELECTOR [--timeout SECONDS]
//
// Prints one JSON line: {"before":"<text before the click>","finalUrl":"…","text":"…"}
// (texts: body innerText, ≤2000 chars). Exit codes: 0 ok; 1 text or element not found,
// or a browser error (message on stderr); 2 bad usage.

import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const USAGE = 'usage: node click.js <url> --expect-text TEXT --click SELECTOR [--timeout SECONDS]';

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'expect-text': { type: 'string' },
      click: { type: 'string' },
      timeout: { type: 'string', default: '60' },
    },
  });
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (positionals.length !== 1 || !values['expect-text'] || !values.click) {
  console.error(USAGE);
  process.exit(2);
}
const timeout = Number(values.timeout) * 1000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  await page.goto(positionals[0]);
  await page.getByText(values['expect-text']).first().waitFor();
  const before = (await page.innerText('body')).slice(0, 2000);
  await Promise.all([page.waitForNavigation(), page.click(values.click)]);
  const text = (await page.innerText('body')).slice(0, 2000);
  console.log(JSON.stringify({ before, finalUrl: page.url(), text }));
} catch (e) {
  console.error(`click.js: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
