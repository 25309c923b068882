import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { Client } from 'pg';
import { Page } from 'playwright-core';
import { seriousViolations } from './support/accessibility';
import { Browser, openBrowser } from './support/browser';
import { ConsoleStack, ROOT, TOKEN } from './support/console-stack';

interface Model {
  card_id: number;
  card_name: string | null;
  last_success_at: string | null;
  last_built_at: string | null;
}
interface Card {
  max_staleness: string | null;
  refresh_key: string | null;
}

/**
 * The admin console in a real browser (Debian's headless Chromium) against the real stack: api, refresher,
 * scheduler and history as processes from dist, real Kafka and PostgreSQL. The page is driven through its
 * labels and roles only, so an unlabelled control fails the test.
 */
describe('admin console in Chromium (real stack)', () => {
  let stack: ConsoleStack;
  let source: TestSourceDatabase;
  let browser: Browser;
  let page: Page;

  const row = (name: string) => page.locator(`tr[data-model="${name}"]`);
  const badge = (name: string) => row(name).locator('[data-state]');
  const nav = (name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  /** A persisted model as the API lists it, by card name. */
  const modelOf = async (name: string) =>
    (
      await stack.api<{ data: Model[] }>(
        'GET',
        `/api/model-persistence?q=${encodeURIComponent(name)}&limit=10`,
      )
    ).data.find((m) => m.card_name === name)!;
  let revenueCard = 0;

  beforeAll(async () => {
    source = await createTestSourceDatabase('postgres', 'e2econsole');
    await source.query('create table orders (id int primary key, amount numeric not null)');
    await source.query('insert into orders select i, i * 1.5 from generate_series(1, 500) i');
    [stack, browser] = await Promise.all([ConsoleStack.start('e2econsole'), openBrowser()]);
    page = browser.page;
    page.setDefaultTimeout(20_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await source?.drop();
  }, 60_000);

  it('rejects a wrong token with its message, then signs in through a one-time link, once', async () => {
    await page.goto(`${stack.apiUrl}/admin/`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'This token is not valid' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    // the link as `npm run sign-in-link` prints it
    const script = spawnSync(process.execPath, [join(ROOT, 'scripts', 'sign-in-link.js')], {
      env: { ...process.env, API_URL: stack.apiUrl, API_TOKEN: TOKEN },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(script.status).toBe(0);
    const link = script.stdout.trim();
    const code = /#signin=(mps_[\w-]+)$/.exec(link)![1];
    const sent: string[] = [];
    page.on('request', (r) => sent.push(r.url()));

    await page.goto(link);
    await page.getByRole('heading', { name: 'Persisted models' }).waitFor();
    await page.getByText('Model persistence is turned off').waitFor();
    // the code left the address bar and the history entry at once; a session token lives in session storage
    expect(page.url()).not.toContain(code);
    expect(page.url()).toMatch(/\/admin\/#\/models$/);
    const session = await page.evaluate<string>("sessionStorage.getItem('mp-admin-token')");
    expect(session).toMatch(/^mpt_/);
    // the code never reached the server: no request path or query carried it (it was POSTed in a body once)
    expect(sent.map((u) => new URL(u)).filter((u) => `${u.pathname}${u.search}`.includes(code))).toEqual([]);

    // the same link in another tab: refused with the reason, and the token form
    const other = await browser.context.newPage();
    try {
      await other.goto(link);
      await other.getByRole('alert').filter({ hasText: 'already used' }).waitFor();
      await other.getByLabel('API token').waitFor();
      expect(other.url()).not.toContain(code);
    } finally {
      await other.close();
    }
  });

  it('turns persistence on after spelling out what it does', async () => {
    await nav('Settings');
    await page.getByRole('button', { name: 'Turn persistence on…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Turn model persistence on?' });
    await dialog.getByText('rebuilt as cache tables').waitFor();
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    await page.getByTestId('persistence-status').filter({ hasText: 'on' }).waitFor();
    expect(
      (await stack.api<Record<string, string>>('GET', '/api/settings'))['persisted-models-enabled'],
    ).toBe('true');
  });

  it('registers a database, shows the can-persist steps and persists it', async () => {
    await nav('Databases');
    const form = page.getByRole('form', { name: 'Register a source database' });
    await form.getByLabel('Name', { exact: true }).fill('Shop');
    await form.getByLabel('Host').fill('127.0.0.1');
    await form.getByLabel('Port').fill('5432');
    await form.getByLabel('Database name').fill(source.name);
    await form.getByLabel('User').fill('postgres');
    await form.getByRole('button', { name: 'Register database' }).click();
    await page.getByRole('status').filter({ hasText: 'Database “Shop” registered.' }).waitFor();

    await page.getByRole('button', { name: 'Persist: Shop' }).click();
    await page.getByText('The can-persist check passed.').waitFor();
    expect(await page.locator('.check li.step-passed').count()).toBe(5);
    await page.locator('tr[data-database="Shop"]').getByText('Yes').waitFor();
  });

  it('adds a model, persists it and shows the state change live (no reload)', async () => {
    const form = page.getByRole('form', { name: 'Add a model' });
    await form.getByLabel('Name', { exact: true }).fill('Revenue');
    await form
      .getByLabel('SQL (one SELECT)')
      .fill('select count(*) as orders, sum(amount) as revenue from orders');
    await form.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('status').filter({ hasText: 'Model “Revenue” added and persisted.' }).waitFor();

    await nav('Models');
    // a marker on the window survives only if the page is never reloaded
    await page.evaluate('window.marker = 42');
    await badge('Revenue').and(page.locator('[data-state="persisted"]')).waitFor({ timeout: 60_000 });
    await row('Revenue').getByText('1 rows').waitFor({ timeout: 30_000 });
    const before = await row('Revenue').locator('td[data-label="Last success"]').innerText();

    await page.getByRole('button', { name: 'Refresh now: Revenue' }).click();
    await page.getByRole('status').filter({ hasText: 'Refresh of “Revenue” requested.' }).waitFor();
    // the refresh lands: a new last-success time, shown by polling, not by reloading
    const lastSuccess = row('Revenue').locator('td[data-label="Last success"]');
    const deadline = Date.now() + 60_000;
    while ((await lastSuccess.innerText()) === before) {
      if (Date.now() > deadline) throw new Error(`last success stayed ${before}`);
      await page.waitForTimeout(250);
    }
    await badge('Revenue').and(page.locator('[data-state="persisted"]')).waitFor();
    expect(await page.evaluate('window.marker')).toBe(42);
  });

  it('shows a failing model in state error with its error text, and in its detail page', async () => {
    await nav('Databases');
    const form = page.getByRole('form', { name: 'Add a model' });
    await form.getByLabel('Name', { exact: true }).fill('Broken');
    await form.getByLabel('SQL (one SELECT)').fill('select * from no_such_table');
    await form.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('status').filter({ hasText: 'Model “Broken” added' }).waitFor();
    await nav('Models');
    await badge('Broken').and(page.locator('[data-state="error"]')).waitFor({ timeout: 60_000 });
    await row('Broken')
      .locator('.error-cell')
      .getByText(/no_such_table/)
      .waitFor();

    await row('Broken').getByRole('link', { name: 'Broken' }).click();
    await page.getByRole('heading', { name: 'Broken' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'no_such_table' }).waitFor();
    await page.getByText('select * from no_such_table').waitFor();
    await page.getByText(/Inherited from the global schedule/).waitFor();
  });

  it('changes the global schedule with the cron explained, refusing an invalid one with the API reason', async () => {
    await nav('Settings');
    const cron = page.getByLabel('Global schedule (Quartz cron)');
    await cron.fill('0 0 * * *');
    await page
      .getByRole('alert')
      .filter({ hasText: /7 fields|cron/i })
      .waitFor();
    expect(await page.getByRole('button', { name: 'Save schedule' }).isDisabled()).toBe(true);

    await cron.fill('0 0/15 * * * ? *');
    await page.getByText('Every 15 minutes starting at minute 0, every day').waitFor();
    expect(await page.locator('#global-cron-preview ol li').count()).toBe(5);
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('status').filter({ hasText: 'The refresh schedule is saved.' }).waitFor();
    expect(
      (await stack.api<Record<string, string>>('GET', '/api/settings'))[
        'persisted-model-refresh-cron-schedule'
      ],
    ).toBe('0 0/15 * * * ? *');
  });

  it('sets a freshness target and a refresh key on a model, showing the API refusals at the field', async () => {
    revenueCard = (await modelOf('Revenue')).card_id;
    await nav('Models');
    await row('Revenue').getByRole('link', { name: 'Revenue' }).click();
    await page.getByRole('heading', { name: 'Revenue' }).waitFor();
    await page.getByTestId('max-staleness').getByText('No target').waitFor();

    // an invalid target: the API's reason next to the field, focus back on it, the text kept
    await page.getByRole('button', { name: 'Set a freshness target' }).click();
    const target = page.getByLabel('Freshness target (ISO-8601 duration)');
    await target.fill('PT30S');
    await page.getByRole('button', { name: 'Save freshness target' }).click();
    await page
      .locator('#model-max-staleness-error[role="alert"]')
      .filter({ hasText: 'between PT1M and P365D' })
      .waitFor();
    await page.locator('#model-max-staleness:focus[aria-invalid="true"]').waitFor();
    expect(await target.getAttribute('aria-describedby')).toContain('model-max-staleness-error');
    expect(await target.inputValue()).toBe('PT30S');
    expect((await stack.api<Card>('GET', `/api/cards/${revenueCard}`)).max_staleness).toBeNull();
    // a valid one is saved and shown
    await target.fill('pt2h');
    await page.getByRole('button', { name: 'Save freshness target' }).click();
    await page.getByRole('status').filter({ hasText: 'The freshness target is now PT2H.' }).waitFor();
    await page.getByTestId('max-staleness').getByText('PT2H').waitFor();
    await page.getByTestId('freshness').getByText('Within its freshness target PT2H (2 h)').waitFor();
    expect((await stack.api<Card>('GET', `/api/cards/${revenueCard}`)).max_staleness).toBe('PT2H');

    // a refresh key that is not a read query: refused by the API's SQL check, shown at the field
    await page.getByRole('button', { name: 'Set a refresh key' }).click();
    const key = page.getByLabel('Refresh key (SQL)');
    await key.fill('delete from orders');
    await page.getByRole('button', { name: 'Save refresh key' }).click();
    await page.locator('#model-refresh-key-error[role="alert"]').filter({ hasText: 'HTTP 400' }).waitFor();
    await page.locator('#model-refresh-key:focus[aria-invalid="true"]').waitFor();
    expect((await stack.api<Card>('GET', `/api/cards/${revenueCard}`)).refresh_key).toBeNull();
    await key.fill('select count(*), sum(amount) from orders');
    await page.getByRole('button', { name: 'Save refresh key' }).click();
    await page.getByRole('status').filter({ hasText: 'The refresh key is saved' }).waitFor();
    await page.getByTestId('refresh-key').getByText('select count(*), sum(amount) from orders').waitFor();
    expect((await stack.api<Card>('GET', `/api/cards/${revenueCard}`)).refresh_key).toBe(
      'select count(*), sum(amount) from orders',
    );
  });

  it('shows a refresh that found the data unchanged as "unchanged" in the task history, and both ages', async () => {
    // "if changed" requests until one finds the refresh key's result as it was at the last build
    type Run = { status: string; started_at: string; task_details: Record<string, unknown> | null };
    const runsOfRevenue = async () =>
      (
        await stack.api<{ data: Run[] }>('GET', '/api/task-history?task=persist-refresh&limit=200')
      ).data.filter((t) => t.task_details?.['card-id'] === revenueCard && t.status !== 'started');
    const isUnchanged = (t: Run) =>
      (t.task_details?.models as Record<string, { outcome?: string }> | undefined)?.[String(revenueCard)]
        ?.outcome === 'unchanged';
    let unchanged = false;
    for (let attempt = 0; attempt < 4 && !unchanged; attempt++) {
      const before = (await runsOfRevenue()).length;
      // a check vouches for the data as of its start minus the settle time (1 s): past the last build's end
      await page.waitForTimeout(1500);
      await stack.api('POST', `/api/model-persistence/card/${revenueCard}/refresh`, { ifChanged: true });
      const deadline = Date.now() + 60_000;
      let runs = await runsOfRevenue();
      while (runs.length <= before) {
        if (Date.now() > deadline) throw new Error(`no completed run of Revenue:\n${stack.logs()}`);
        await page.waitForTimeout(250);
        runs = await runsOfRevenue();
      }
      unchanged = runs.some(isUnchanged);
    }
    expect(unchanged).toBe(true);
    const m = await modelOf('Revenue');
    // verified current after its last build: the two ages differ
    expect(Date.parse(m.last_success_at!)).toBeGreaterThan(Date.parse(m.last_built_at!));

    await nav('Models');
    await row('Revenue').getByRole('link', { name: 'Revenue' }).click();
    await page.getByRole('heading', { name: 'Revenue' }).waitFor();
    await page
      .locator('[data-outcome="unchanged"]')
      .filter({ hasText: 'unchanged: data verified unchanged, not rebuilt' })
      .first()
      .waitFor();
    // a built run is told apart from it
    expect(await page.locator('[data-outcome="built"]').count()).toBeGreaterThan(0);
    await page
      .getByTestId('since-verified')
      .getByText(/ago \(/)
      .waitFor();
    await page.getByTestId('since-build').getByText(/\(/).waitFor();
    await nav('Task history');
    await page.locator('[data-outcome="unchanged"]').filter({ hasText: '1 unchanged' }).first().waitFor();
  });

  it('marks a stale model with its reason, and "Stale only" lists only the stale ones', async () => {
    const broken = await modelOf('Broken');
    await stack.api('PATCH', `/api/cards/${broken.card_id}`, { max_staleness: 'PT1M' });
    // Broken never succeeds: its age counts from its creation, put 10 minutes back here
    const db = new Client({ connectionString: stack.app.url });
    await db.connect();
    try {
      await db.query(
        `update persisted_info set created_at = now() - interval '10 minutes' where card_id = $1`,
        [broken.card_id],
      );
    } finally {
      await db.end();
    }
    await nav('Models');
    const marker = row('Broken').locator('[data-stale="true"]');
    await marker.getByText('Stale', { exact: true }).waitFor();
    await marker.getByText('Never refreshed: beyond its freshness target PT1M (1 min)').waitFor();
    expect(await row('Revenue').locator('[data-stale]').count()).toBe(0);

    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => asked.push(r.url());
    page.on('request', onRequest);
    try {
      await page.getByLabel('Stale only').check();
      await row('Revenue').waitFor({ state: 'detached' });
      await row('Broken').waitFor();
      expect(asked.some((u) => new URL(u).searchParams.get('stale') === 'true')).toBe(true);
      await page.getByLabel('Stale only').uncheck();
      await row('Revenue').waitFor();
    } finally {
      page.off('request', onRequest);
    }

    await row('Broken').getByRole('link', { name: 'Broken' }).click();
    await page.getByRole('heading', { name: 'Broken' }).waitFor();
    await page
      .getByTestId('freshness')
      .getByText('Never refreshed: beyond its freshness target PT1M (1 min)')
      .waitFor();
  });

  it('has no serious or critical accessibility violations (axe-core) at 1280 px and 390 px', async () => {
    const pages: [string, string][] = [
      ['Models', 'Persisted models'],
      ['Databases', 'Databases'],
      ['Settings', 'Settings'],
      ['Task history', 'Task history'],
      ['Dead letters', 'Dead letters'],
    ];
    const found: Record<string, unknown> = {};
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const [link, heading] of pages) {
        await nav(link);
        await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
        await page.waitForTimeout(300); // the page's data arrives
        const v = await seriousViolations(page);
        if (v.length) found[`${link} @${width}px`] = v;
      }
      await nav('Models');
      await row('Broken').getByRole('link', { name: 'Broken' }).click();
      await page.getByRole('heading', { name: 'Broken' }).waitFor();
      await page.waitForTimeout(300);
      const v = await seriousViolations(page);
      if (v.length) found[`Model detail @${width}px`] = v;
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(found).toEqual({});
  });

  it('fits a 390 px wide screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await nav('Models');
    await badge('Revenue').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out: the session ends on the server, the token is gone and the console asks for it again', async () => {
    const session = await page.evaluate<string>("sessionStorage.getItem('mp-admin-token')");
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('mp-admin-token')")).toBeNull();
    const after = await fetch(`${stack.apiUrl}/api/settings`, {
      headers: { authorization: `Bearer ${session}` },
    });
    expect(after.status).toBe(401);
    await page.reload();
    await page.getByLabel('API token').waitFor();
    // expected: the wrong token's 401, the invalid cron's 400, the invalid freshness target's and refresh key's
    // 400 and the development-mail probe's 404 (this is not a development stack); nothing else failed
    const expected = [
      'HTTP 401 GET /api/settings',
      'HTTP 400 GET /api/cron/next-fire-times',
      `HTTP 400 PATCH /api/cards/${revenueCard}`,
      'HTTP 404 GET /api/dev/mail',
    ];
    expect(browser.problems.filter((p) => !expected.includes(p))).toEqual([]);
  });
});
