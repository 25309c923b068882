import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { CDPSession, Page } from 'playwright-core';
import { Browser, openBrowser } from './support/browser';
import { ConsoleStack, TOKEN } from './support/console-stack';

/** One Tab stop as the browser sees it: its accessible name and role (Chromium's own), box and focus ring. */
interface Stop {
  tag: string;
  role: string;
  name: string;
  /** the box in document coordinates (scrolling moves the viewport, not the order) */
  top: number;
  bottom: number;
  left: number;
  inMain: boolean;
  inDialog: boolean;
  /** a :focus-visible ring drawn: outline or box-shadow */
  ring: boolean;
  /**
   * on screen and not hidden: the point in the middle of its first line box hits it (a control clipped away,
   * covered or off screen fails; the skip link is moved into view when focused)
   */
  visible: boolean;
}

/*
 * Code evaluated in the page is passed as strings: this test has no DOM types. `window.__kbd` holds every
 * control a keyboard user must be able to reach (visible, enabled, not removed from the Tab order) and the ones
 * Tab reached so far.
 */
const ACTIVE_INFO = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (window.__kbd) window.__kbd.seen.add(el);
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
  return {
    tag: el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''),
    top: r.top + scrollY,
    bottom: r.bottom + scrollY,
    left: r.left + scrollX,
    inMain: !!el.closest('main'),
    inDialog: !!el.closest('dialog'),
    ring: ring && el.matches(':focus-visible'),
    visible: (() => {
      const box = el.getClientRects()[0];
      if (!box || box.width === 0 || box.height === 0) return false;
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      return !!hit && (hit === el || el.contains(hit) || (el.labels && [...el.labels].includes(hit)));
    })(),
  };
})()`;

const MARK_CONTROLS = `(() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])',
  )].filter((el) => !el.disabled && el.getClientRects().length > 0 && !el.closest('[inert]')
    && getComputedStyle(el).visibility !== 'hidden');
  window.__kbd = { all, seen: new Set() };
  return all.length;
})()`;

const UNREACHED = `window.__kbd.all
  .filter((el) => el.isConnected && !el.disabled && !window.__kbd.seen.has(el))
  .map((el) => el.outerHTML.slice(0, 160))`;

/**
 * Keyboard use of the admin console in Chromium against the real api: the first Tab stop, the skip link, the
 * Tab order against the layout, names and focus rings of every control, focus after navigation, and the
 * confirmation dialog (focus trapped, Escape, focus back on its opener). Only the api runs: the pages need data,
 * not refreshes.
 */
describe('admin console by keyboard (Chromium, real api)', () => {
  let stack: ConsoleStack;
  let source: TestSourceDatabase;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let modelId = 0;
  let mailDir = '';

  /** The focused element with Chromium's accessible name and role; null when nothing (the body) has focus. */
  const active = async (): Promise<Stop | null> => {
    const info = await page.evaluate<Omit<Stop, 'name' | 'role'> | null>(ACTIVE_INFO);
    if (!info) return null;
    const { result } = await cdp.send('Runtime.evaluate', { expression: 'document.activeElement' });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', {
      objectId: result.objectId,
      fetchRelatives: false,
    });
    const node = nodes.find((n) => !n.ignored) ?? nodes[0];
    return {
      ...info,
      role: String(node?.role?.value ?? ''),
      name: String(node?.name?.value ?? '').trim(),
    };
  };
  const tab = async (shift = false): Promise<Stop | null> => {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    return active();
  };
  const activeIs = (selector: string) =>
    page.evaluate<boolean>(`document.activeElement.matches(${JSON.stringify(selector)})`);
  /** Waits until focus is on `selector` (page.waitForFunction would eval a string: the console's CSP forbids it). */
  const focusReaches = async (selector: string) => {
    const deadline = Date.now() + 10_000;
    while (!(await activeIs(selector))) {
      if (Date.now() > deadline)
        throw new Error(`focus never reached ${selector}: ${JSON.stringify(await active())}`);
      await page.waitForTimeout(50);
    }
  };
  /** A fresh page load of a console route, signed in. */
  const load = async (hash: string, ready: string) => {
    // signed in by the token in the tab's session storage (set on another document of the origin), so each
    // page test stands on its own
    await page.goto(`${stack.apiUrl}/admin/favicon.svg`);
    await page.evaluate(`sessionStorage.setItem('mp-admin-token', ${JSON.stringify(TOKEN)})`);
    await page.goto(`${stack.apiUrl}/admin/#${hash}`);
    await page.locator(ready).first().waitFor();
    await page.waitForTimeout(200); // the rest of the page's data
  };
  /** Tabs from the top of the page through every stop until focus leaves the document or comes round again. */
  const walk = async (): Promise<Stop[]> => {
    await page.evaluate(MARK_CONTROLS);
    const stops: Stop[] = [];
    for (let i = 0; i < 200; i++) {
      const s = await tab();
      if (!s || (i > 0 && s.name === 'Skip to content')) break;
      stops.push(s);
    }
    return stops;
  };
  /** b comes after a when reading left to right, top to bottom (a few pixels of slack for alignment). */
  const readsAfter = (a: Stop, b: Stop) =>
    b.top >= a.bottom - 4 || (b.top < a.bottom && b.left >= a.left - 4);

  const pages: {
    title: string;
    tabTitle: string;
    hash: () => string;
    ready: string;
    firstInMain: RegExp | null;
  }[] = [
    {
      title: 'Persisted models',
      tabTitle: 'Models',
      hash: () => '/models',
      ready: 'tr[data-model]',
      firstInMain: /^Search by name/,
    },
    {
      title: 'model detail',
      tabTitle: 'Model',
      hash: () => `/models/${modelId}`,
      ready: 'h1#detail-title',
      firstInMain: /^← All models$/,
    },
    {
      title: 'Settings',
      tabTitle: 'Settings',
      hash: () => '/settings',
      ready: 'h1#settings-title',
      firstInMain: /^Turn persistence off…$/,
    },
    {
      title: 'Databases',
      tabTitle: 'Databases',
      hash: () => '/databases',
      ready: 'tr[data-database]',
      firstInMain: /./,
    },
    {
      title: 'Task history',
      tabTitle: 'Task history',
      hash: () => '/tasks',
      ready: 'h1#tasks-title',
      firstInMain: /./,
    },
    {
      title: 'Dead letters',
      tabTitle: 'Dead letters',
      hash: () => '/dead-letters',
      ready: 'h1#dl-title ~ .table-wrap table',
      firstInMain: /^Source topic/,
    },
    // development mode (npm start): caught mails, no controls of its own
    { title: 'Mail', tabTitle: 'Mail', hash: () => '/mail', ready: 'h1#mail-title', firstInMain: null },
  ];
  const HEADER = [
    'Skip to content',
    'Models',
    'Databases',
    'Settings',
    'Task history',
    'Dead letters',
    'Mail',
    'Sign out',
  ];

  beforeAll(async () => {
    source = await createTestSourceDatabase('postgres', 'e2ekbd');
    await source.query('create table orders (id int primary key, amount numeric not null)');
    // both kept even when the other fails, so afterAll stops what did start
    mailDir = mkdtempSync(join(tmpdir(), 'mp-kbd-mail-'));
    const [started, opened] = await Promise.allSettled([
      // the console as npm start serves it: development mail on, so the header has its Mail link
      ConsoleStack.start('e2ekbd', [], { DEV_MAIL_DIR: mailDir }),
      openBrowser(),
    ]);
    if (started.status === 'fulfilled') stack = started.value;
    if (opened.status === 'fulfilled') browser = opened.value;
    for (const r of [started, opened]) if (r.status === 'rejected') throw r.reason;
    page = browser.page;
    page.setDefaultTimeout(15_000);
    cdp = await browser.context.newCDPSession(page);
    await cdp.send('Accessibility.enable');
    // data for every page: persistence on, a persisted database with two models (no refresher: they stay creating)
    await stack.api('POST', '/api/model-persistence/enable');
    const db = await stack.api<{ id: number }>('POST', '/api/databases', {
      name: 'Shop',
      engine: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      db_name: source.name,
      user: 'postgres',
    });
    await stack.api('POST', `/api/model-persistence/database/${db.id}/persist`);
    for (const [name, sql] of [
      ['Revenue', 'select sum(amount) as revenue from orders'],
      ['Order count', 'select count(*) as orders from orders'],
    ]) {
      const card = await stack.api<{ id: number }>('POST', '/api/cards', {
        name,
        database_id: db.id,
        sql,
        type: 'model',
      });
      await stack.api('POST', `/api/model-persistence/card/${card.id}/persist`);
    }
    const models = await stack.api<{ data: { id: number }[] }>('GET', '/api/model-persistence');
    expect(models.data.length).toBe(2);
    modelId = models.data[0].id;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await source?.drop();
    if (mailDir) rmSync(mailDir, { recursive: true, force: true });
  }, 60_000);

  it('sign-in: the skip link is the first Tab stop, it moves focus to the form, and Enter signs in', async () => {
    await page.goto(`${stack.apiUrl}/admin/`);
    await page.getByLabel('API token').waitFor();
    expect(await page.title()).toBe('Sign in — Model persistence admin');
    const first = await tab();
    expect(first).toMatchObject({ name: 'Skip to content', role: 'link', ring: true, visible: true });
    await page.keyboard.press('Enter');
    expect(await activeIs('main#main')).toBe(true);
    expect(await tab()).toMatchObject({ tag: 'input#token', name: 'API token', ring: true });
    await page.keyboard.type(TOKEN);
    expect(await tab()).toMatchObject({ role: 'button', name: 'Sign in', ring: true });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Persisted models' }).waitFor();
    // signing in is a page load for the keyboard: the next Tab starts at the top again
    expect(await tab()).toMatchObject({ name: 'Skip to content' });
  });

  for (const p of pages) {
    it(`${p.title}: skip link first, then the header and the page's controls in reading order, all named, all reachable, rings visible`, async () => {
      await load(p.hash(), p.ready);
      expect(await page.evaluate<string>('document.activeElement.tagName')).toBe('BODY');
      expect(await page.title()).toBe(`${p.tabTitle} — Model persistence admin`);

      // the skip link: first stop, shown when focused, and it lands on the main region
      expect(await tab()).toMatchObject({ name: 'Skip to content', role: 'link', visible: true, ring: true });
      await page.keyboard.press('Enter');
      expect(await activeIs('main#main')).toBe(true);
      const firstInMain = await tab();
      if (p.firstInMain) {
        expect(firstInMain).toMatchObject({ inMain: true, ring: true });
        expect(firstInMain!.name).toMatch(p.firstInMain);
      } else expect(firstInMain?.inMain ?? false).toBe(false); // past the last control: out, or round to the top

      // the whole Tab order from a fresh load
      await load(p.hash(), p.ready);
      const stops = await walk();
      const names = stops.map((s) => s.name);
      expect(names.slice(0, HEADER.length)).toEqual(HEADER);
      if (p.firstInMain) {
        expect(stops[HEADER.length]).toMatchObject({ inMain: true });
        expect(stops[HEADER.length].name).toMatch(p.firstInMain);
      } else expect(stops.length).toBe(HEADER.length);
      expect(stops.filter((s) => !s.name).map((s) => s.tag)).toEqual([]);
      expect(stops.filter((s) => !s.ring).map((s) => `${s.tag} ${s.name}`)).toEqual([]);
      expect(stops.filter((s) => !s.visible).map((s) => `${s.tag} ${s.name}`)).toEqual([]);
      const outOfOrder = stops
        .slice(1) // the skip link sits over the header's corner when focused
        .map((s, i, all) => (i > 0 && !readsAfter(all[i - 1], s) ? `${all[i - 1].name} → ${s.name}` : null))
        .filter((x) => x !== null);
      expect(outOfOrder).toEqual([]);
      expect(await page.evaluate<string[]>(UNREACHED)).toEqual([]);
    });
  }

  it("models: filters before the sort buttons before each row's link and actions", async () => {
    await load('/models', 'tr[data-model]');
    const names = (await walk()).map((s) => s.name).slice(HEADER.length);
    const at = (re: RegExp) => names.findIndex((n) => re.test(n));
    const order = [
      /^Search by name/,
      /^State/,
      /^Database/,
      /^Model/,
      /^Last success/,
      /^Order count$/,
      /^Refresh now: Order count$/,
      /^Unpersist: Order count$/,
      /^Revenue$/,
      /^Refresh now: Revenue$/,
      /^Unpersist: Revenue$/,
    ].map((re) => [String(re), at(re)] as const);
    expect(order.filter(([, i]) => i < 0)).toEqual([]);
    expect(order.map(([, i]) => i)).toEqual([...order.map(([, i]) => i)].sort((a, b) => a - b));
  });

  it("navigating by keyboard moves focus to the new page's heading", async () => {
    await load('/models', 'tr[data-model]');
    for (let i = 0; i < 4; i++) await tab(); // skip link, Models, Databases, Settings
    expect((await active())!.name).toBe('Settings');
    await page.keyboard.press('Enter');
    await focusReaches('h1#settings-title');
    // and the next Tab is the page's first control
    expect(await tab()).toMatchObject({ name: 'Turn persistence off…', inMain: true });

    // a link inside a page too: the model's detail
    await load('/models', 'tr[data-model]');
    await page.locator('tr[data-model="Revenue"] a').focus();
    await page.keyboard.press('Enter');
    await focusReaches('h1#detail-title');
    expect(await page.evaluate<string>('document.activeElement.textContent')).toBe('Revenue');
  });

  it('the confirmation dialog traps focus, closes on Escape and on Cancel, and gives focus back to its opener', async () => {
    await load('/settings', 'h1#settings-title');
    await page.getByRole('button', { name: 'Turn persistence off…' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Turn model persistence off?' }).waitFor();
    // focus starts on the harmless choice; Tab and Shift+Tab go round inside the dialog only
    expect(await active()).toMatchObject({ name: 'Cancel', inDialog: true, ring: true });
    const round: string[] = [];
    for (let i = 0; i < 4; i++)
      round.push(`${(await tab())!.name}${(await activeIs('dialog *')) ? '' : ' (outside)'}`);
    for (let i = 0; i < 3; i++)
      round.push(`⇧${(await tab(true))!.name}${(await activeIs('dialog *')) ? '' : ' (outside)'}`);
    expect(round).toEqual([
      'Turn off and drop the caches',
      'Cancel',
      'Turn off and drop the caches',
      'Cancel',
      '⇧Turn off and drop the caches',
      '⇧Cancel',
      '⇧Turn off and drop the caches',
    ]);
    // the page behind is inert: focusing one of its controls by script does not take focus out of the dialog
    expect(
      await page.evaluate<boolean>(
        `(document.querySelector('header.top a').focus(), !!document.activeElement.closest('dialog'))`,
      ),
    ).toBe(true);

    // keep the first dialog's node: Chromium dispatches its `close` event at an animation frame, which may come
    // only after the next dialog opened (CI once saw the second dialog never show)
    await page.evaluate(`(window.firstDialog = document.querySelector('dialog'), undefined)`);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(await active()).toMatchObject({ name: 'Turn persistence off…', ring: true });

    // again with Space, and closed with its Cancel button
    await page.keyboard.press('Space');
    await page.getByRole('dialog', { name: 'Turn model persistence off?' }).waitFor();
    // a late `close` of the first (unmounted) dialog must not cancel this one
    await page.evaluate(`(window.firstDialog.dispatchEvent(new Event('close')), undefined)`);
    await page.waitForTimeout(200); // nothing should happen: give a wrong re-render its chance
    expect(await page.getByRole('dialog', { name: 'Turn model persistence off?' }).isVisible()).toBe(true);
    expect(await active()).toMatchObject({ name: 'Cancel', inDialog: true });
    await page.keyboard.press('Enter'); // on Cancel
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    // focus comes back with the dialog's unmount, which may land a moment after its node is gone (once seen null)
    await focusReaches('section[aria-labelledby="settings-title"] > button.danger');
    expect(await active()).toMatchObject({ name: 'Turn persistence off…', ring: true });
    // nothing was turned off
    expect(
      (await stack.api<Record<string, string>>('GET', '/api/settings'))['persisted-models-enabled'],
    ).toBe('true');
  });

  it('at 390 px wide every control is still reachable, named, shown and ringed', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const [hash, ready] of [
        ['/models', 'tr[data-model]'],
        ['/settings', 'h1#settings-title'],
      ]) {
        await load(hash, ready);
        const stops = await walk();
        expect(stops[0].name).toBe('Skip to content');
        expect(
          stops.filter((s) => !s.name || !s.ring || !s.visible).map((s) => `${s.tag} ${s.name}`),
        ).toEqual([]);
        expect(await page.evaluate<string[]>(UNREACHED)).toEqual([]);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    // expected: polls cut off by the page loads of this test; nothing else failed
    expect(browser.problems.filter((p) => !p.endsWith('net::ERR_ABORTED'))).toEqual([]);
  });

  it("a model's freshness target and refresh key forms: focus moves in, Enter saves, a refusal keeps focus on the field, focus returns to the opener", async () => {
    await load(`/models/${modelId}`, 'h1#detail-title');
    await page.getByRole('button', { name: 'Set a freshness target' }).focus();
    await page.keyboard.press('Enter');
    await focusReaches('#model-max-staleness');
    await page.keyboard.type('PT30S');
    await page.keyboard.press('Enter'); // submits the form
    await page.locator('#model-max-staleness-error').filter({ hasText: 'between PT1M and P365D' }).waitFor();
    await focusReaches('#model-max-staleness[aria-invalid="true"]');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('PT45M');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'The freshness target is now PT45M.' }).waitFor();
    await focusReaches('#max-staleness-edit');
    expect(await active()).toMatchObject({ name: 'Change freshness target', ring: true });

    // the refresh key: opened and cancelled by keyboard alone, nothing saved
    await tab(); // Remove freshness target
    expect(await tab()).toMatchObject({ name: 'Set a refresh key' });
    await page.keyboard.press('Enter');
    await focusReaches('#model-refresh-key');
    await page.keyboard.type('select count(*) from orders');
    expect(await tab()).toMatchObject({ name: 'Save refresh key' });
    expect(await tab()).toMatchObject({ name: 'Cancel' });
    await page.keyboard.press('Enter');
    await focusReaches('#refresh-key-edit');
    const card = (await stack.api<{ card_id: number }>('GET', `/api/model-persistence/${modelId}`)).card_id;
    expect(await stack.api('GET', `/api/cards/${card}`)).toMatchObject({
      max_staleness: 'PT45M',
      refresh_key: null,
    });
  });
});
