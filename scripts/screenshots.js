#!/usr/bin/env node
/*
 * Screenshots of the admin console's main pages, from the demo data of a running `npm start`, into docs/images/
 * (the README shows them). Uses Debian's Chromium (scripts/ensure-chromium.js) through playwright-core.
 *   npm start                 # in another terminal, wait for "model-persistence is running"
 *   npm run screenshots       # API_PORT / API_BOOTSTRAP_TOKEN as for npm start
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root } = require('./lib');
const { ensureChromium } = require('./ensure-chromium');
const { mintSignInLink } = require('./sign-in-link');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function main() {
  const base = `http://127.0.0.1:${Number(process.env.API_PORT || 3000)}`;
  const token =
    process.env.API_BOOTSTRAP_TOKEN ||
    fs.readFileSync(path.join(root, '.cache', 'admin-token'), 'utf8').trim();
  const out = path.join(root, 'docs', 'images');
  fs.mkdirSync(out, { recursive: true });
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-shots-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: ensureChromium(),
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(30_000);
    const shot = async (name, opts = {}) => {
      await page.waitForTimeout(600); // polling and fonts settle
      await page.screenshot({ path: path.join(out, `${name}.png`), ...opts });
      console.log(`[screenshots] docs/images/${name}.png`);
    };
    const go = async (hash, heading) => {
      await page.goto(`${base}/admin/#${hash}`);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
    };
    await page.goto((await mintSignInLink({ base, token })).url);
    await page.getByRole('heading', { name: 'Persisted models' }).waitFor();
    await page.locator('tr[data-model]').first().waitFor();
    await shot('console-models');
    await page.locator('tr[data-model] a').filter({ hasText: 'broken on purpose' }).first().click();
    await page.getByRole('heading', { name: 'Task history of this model' }).waitFor();
    await shot('console-model-detail', { fullPage: true });
    await go('/settings', 'Settings');
    await page.locator('#global-cron-preview ol li').first().waitFor();
    await shot('console-settings', { fullPage: true });
    await go('/databases', 'Databases');
    await page.getByRole('button', { name: /^Check: Demo shop/ }).click();
    await page.locator('.check').first().waitFor();
    await shot('console-databases', { fullPage: true });
    await go('/tasks', 'Task history');
    await shot('console-task-history');
    await go('/dead-letters', 'Dead letters');
    await page.locator('table').waitFor();
    await shot('console-dead-letters');
    if (await page.getByRole('link', { name: 'Mail' }).count()) {
      await go('/mail', 'Caught mail (development)');
      await page.locator('article.mail').first().waitFor();
      await shot('console-mail');
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await go('/models', 'Persisted models');
    await page.locator('tr[data-model]').first().waitFor();
    await shot('console-models-phone');
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error('[screenshots]', e.message);
  console.error('Is `npm start` running (same API_PORT)?');
  process.exit(1);
});
