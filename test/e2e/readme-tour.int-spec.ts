import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { Page } from 'playwright-core';
import { Browser, openBrowser } from './support/browser';
import { ConsoleStack, ROOT, TOKEN } from './support/console-stack';

/* eslint-disable @typescript-eslint/no-require-imports */
const { startMailCatcher } = require('../../scripts/mail-catcher.js') as {
  startMailCatcher(o: { dir: string; port: number }): Promise<{ port: number; close(): Promise<void> }>;
};
const { mintSignInLink } = require('../../scripts/sign-in-link.js') as {
  mintSignInLink(o: { base: string; token: string }): Promise<{ url: string }>;
};
const { seedDemo } = require('../../scripts/demo-seed.js') as {
  seedDemo(o: { base: string; token: string; pgUrl: string; withMysql: boolean }): Promise<string>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The README's tour: its five steps, and the words the steps tell the reader to click, type and see. */
function readmeTour(): { steps: string[]; text: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const text = /## Your first ten minutes\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const steps = [...text.matchAll(/^\d\. \*\*([^*]+)\*\*/gm)].map((m) => m[1]);
  return { steps, text: text.replace(/\s+/g, ' ') };
}

/**
 * The README's five-step tour, followed literally in Chromium against the real stack (all five services, the
 * local mail catcher npm start runs, the demo data npm start seeds): the words it clicks, types and waits for
 * are the README's, and the test fails when the README's steps change without it.
 */
describe('README tour (real stack, Chromium, mail catcher)', () => {
  const STEPS = [
    'Start',
    'Open the console',
    'Watch a refresh',
    'Break a model and see the email',
    'Fix it and see the recovery email',
  ];
  const tour = readmeTour();
  let source: TestSourceDatabase;
  let stack: ConsoleStack;
  let browser: Browser;
  let page: Page;
  let mailDir: string;
  let catcher: { port: number; close(): Promise<void> };

  const said = (words: string) => {
    // every word the test acts on is one the README tells the reader
    expect(tour.text).toContain(words);
    return words;
  };
  const nav = (name: string) =>
    page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: said(name) })
      .click();
  const row = (name: string) => page.locator(`tr[data-model="${name}"]`);
  const mail = (subject: string, body: string) =>
    page.locator('article.mail').filter({ hasText: subject }).filter({ hasText: body }).first();

  beforeAll(async () => {
    mailDir = mkdtempSync(join(tmpdir(), 'mp-tour-mail-'));
    catcher = await startMailCatcher({ dir: mailDir, port: 0 });
    source = await createTestSourceDatabase('postgres', 'tour');
    [stack, browser] = await Promise.all([
      ConsoleStack.start('tour', ['refresher', 'scheduler', 'history', 'notifier'], {
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(catcher.port),
        DEV_MAIL_DIR: mailDir,
        ALERT_RUN_GRACE_MS: '2000',
        EMAIL_POLL_INTERVAL_MS: '200',
      }),
      openBrowser(),
    ]);
    page = browser.page;
    page.setDefaultTimeout(30_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await catcher?.close();
    await source?.drop();
    if (mailDir) rmSync(mailDir, { recursive: true, force: true });
  }, 60_000);

  it('has the five steps the README opens with', () => {
    expect(tour.steps).toEqual(STEPS);
  });

  it(`1. ${STEPS[0]}: npm start's demo data and sign-in link`, async () => {
    const summary = await seedDemo({
      base: stack.apiUrl,
      token: TOKEN,
      pgUrl: `postgres://postgres@127.0.0.1:5432/${source.name}`,
      withMysql: false,
    });
    expect(summary).toMatch(/1 source database/);
    said('Console:');
    said('model-persistence is running');
  });

  it(`2. ${STEPS[1]}: the models with their state, the broken demo model and its email`, async () => {
    // the Console: link npm start prints (scripts/start-console.js mints it the same way)
    await page.goto((await mintSignInLink({ base: stack.apiUrl, token: TOKEN })).url);
    await page.getByRole('heading', { name: 'Persisted models' }).waitFor();
    await row(said('Orders by status')).locator('[data-state="persisted"]').waitFor({ timeout: 90_000 });
    await row(said('Returns by day (broken on purpose)'))
      .locator('[data-state="error"]')
      .waitFor({ timeout: 90_000 });
    await nav('Mail');
    await mail('Model cache refresh failed', 'Returns by day (broken on purpose)').waitFor({
      timeout: 60_000,
    });
  });

  it(`3. ${STEPS[2]}: Refresh now, and Last success moves without a reload`, async () => {
    await nav('Models');
    await page.evaluate('window.marker = 1');
    const lastSuccess = row('Orders by status').locator('td[data-label="Last success"]');
    const before = await lastSuccess.innerText();
    await row('Orders by status')
      .getByRole('button', { name: said('Refresh now') })
      .click();
    const deadline = Date.now() + 60_000;
    while ((await lastSuccess.innerText()) === before) {
      if (Date.now() > deadline) throw new Error(`Last success stayed ${before}`);
      await page.waitForTimeout(250);
    }
    await row('Orders by status').locator('[data-state="persisted"]').waitFor();
    expect(await page.evaluate('window.marker')).toBe(1);
  });

  const editSql = async (from: string, to: string) => {
    await nav('Models');
    await row('Orders by status').getByRole('link', { name: 'Orders by status' }).click();
    await page.getByRole('button', { name: said('Edit SQL') }).click();
    const sql = page.getByLabel('SQL of this model (one SELECT)');
    const current = await sql.inputValue();
    expect(current).toContain(said(from));
    await sql.fill(current.replace(from, said(to)));
    await page.getByRole('button', { name: said('Save SQL') }).click();
    await page.getByRole('status').filter({ hasText: 'The SQL is saved' }).waitFor();
  };

  it(`4. ${STEPS[3]}: Edit SQL to a missing table, the error, and the failure email`, async () => {
    await editSql('from orders', 'from orderz');
    await page
      .getByRole('alert')
      .filter({ hasText: said('relation "orderz" does not exist') })
      .waitFor({
        timeout: 60_000,
      });
    await nav('Mail');
    await mail(
      said('Model cache refresh failed for Demo shop (PostgreSQL)'),
      'Model: Orders by status',
    ).waitFor({
      timeout: 60_000,
    });
  });

  it(`5. ${STEPS[4]}: Edit SQL back, Persisted again, and the recovery email`, async () => {
    await editSql('from orderz', 'from orders');
    await page.locator('[data-state="persisted"]').first().waitFor({ timeout: 60_000 });
    await nav('Mail');
    await mail(
      said('Model cache refresh succeeded again for Demo shop (PostgreSQL)'),
      'Orders by status',
    ).waitFor({
      timeout: 60_000,
    });
  });
});
