import { INestApplication } from '@nestjs/common';
import { countSourceRows, TestSourceConnection } from '@model-persistence/testing';
import { createRefresherStack, refresherEnv, RefresherStack, startRefresher } from './refresher.test-kit';

/*
 * Models built on models ({{#id}}), on each engine, through Kafka: a database run builds upstream models first
 * (whatever their ids), a downstream model reads its upstream's cache table, and a model whose upstream failed
 * in the run is skipped with UPSTREAM_FAILED while its table stays as it was.
 */
jest.setTimeout(120_000);

describe.each<TestSourceConnection['engine']>(['postgres', 'mysql'])('models on models (%s)', (engine) => {
  let stack: RefresherStack;
  let refresher: INestApplication;
  let dbId: number;
  const id: Record<'top' | 'base' | 'mid', number> = { top: 0, base: 0, mid: 0 };

  beforeAll(async () => {
    stack = await createRefresherStack(`mom${engine.slice(0, 2)}`, engine);
    dbId = await stack.app.addDatabase({ name: `mom-${engine}`, source: stack.src.connection });
    // the most downstream model gets the lowest id: the run order must come from the references, not the ids
    id.top = await stack.app.addCard({ databaseId: dbId, name: 'Top', sql: 'select 1 as n' });
    id.base = await stack.app.addCard({
      databaseId: dbId,
      name: 'Base',
      sql: 'select id, amount from orders',
    });
    id.mid = await stack.app.addCard({
      databaseId: dbId,
      name: 'Mid',
      sql: `select id, amount from {{#${id.base}-base}} b where amount >= 500`,
    });
    await stack.app.setCardSql(id.top, `select count(*) as n from {{#${id.mid}}} m`);
    refresher = await startRefresher(refresherEnv(stack.app.db.url, stack.bus.prefix));
  }, 90_000);

  afterAll(async () => {
    await stack?.close(refresher);
  });

  const cacheCount = async (cardId: number) => {
    const row = await stack.app.row(cardId);
    return countSourceRows(stack.src, engine, row.schema_name, row.table_name);
  };
  const topValue = async () => {
    const row = await stack.app.row(id.top);
    const q = engine === 'postgres' ? '"' : '`';
    const [r] = await stack.src.query<{ n: number | string }>(
      `select n from ${q}${row.schema_name}${q}.${q}${row.table_name}${q}`,
    );
    return Number(r.n);
  };

  it('builds upstream models first and each downstream reads what its upstream built', async () => {
    const req = await stack.bus.request({ databaseId: dbId, trigger: 'manual' });
    const done = await stack.bus.waitRun(req.eventId);
    expect(done).toMatchObject({ success: 3, error: 0, skipped: 0 });
    const ended = (cardId: number) =>
      Date.parse(stack.bus.events('RefreshSucceeded', req.eventId).find((e) => e.cardId === cardId)!.endedAt);
    expect(ended(id.base)).toBeLessThanOrEqual(ended(id.mid));
    expect(ended(id.mid)).toBeLessThanOrEqual(ended(id.top));
    expect(await cacheCount(id.mid)).toBe(500);
    expect(await topValue()).toBe(500);
  });

  it("a downstream model alone reads its upstream's cache table (not the live source)", async () => {
    await stack.src.query(
      engine === 'postgres'
        ? 'insert into orders select g, 900 from generate_series(2001, 2010) g'
        : 'insert into orders (id, amount) values (2001,900),(2002,900),(2003,900),(2004,900),(2005,900),(2006,900),(2007,900),(2008,900),(2009,900),(2010,900)',
    );
    const one = await stack.bus.request({ databaseId: dbId, cardId: id.mid, trigger: 'manual' });
    expect(await stack.bus.waitRun(one.eventId)).toMatchObject({ success: 1 });
    // base's cache does not have the new rows yet
    expect(await cacheCount(id.mid)).toBe(500);
    const all = await stack.bus.request({ databaseId: dbId, trigger: 'manual' });
    expect(await stack.bus.waitRun(all.eventId)).toMatchObject({ success: 3 });
    expect(await cacheCount(id.mid)).toBe(510);
    expect(await topValue()).toBe(510);
  });

  it('a refresh of one model with downstream: true rebuilds it and the models that read it, upstream first', async () => {
    await stack.src.query(
      engine === 'postgres'
        ? 'insert into orders select g, 700 from generate_series(3001, 3005) g'
        : 'insert into orders (id, amount) values (3001,700),(3002,700),(3003,700),(3004,700),(3005,700)',
    );
    const req = await stack.bus.request({
      databaseId: dbId,
      cardId: id.base,
      downstream: true,
      trigger: 'manual',
    });
    expect(await stack.bus.waitRun(req.eventId)).toMatchObject({ cardId: id.base, success: 3, error: 0 });
    expect(stack.bus.events('RefreshRunStarted', req.eventId)).toEqual([
      expect.objectContaining({ modelCount: 3 }),
    ]);
    expect(await cacheCount(id.mid)).toBe(515);
    expect(await topValue()).toBe(515);
    // the most downstream model alone: nothing reads it, so only it is rebuilt
    const top = await stack.bus.request({
      databaseId: dbId,
      cardId: id.top,
      downstream: true,
      trigger: 'manual',
    });
    expect(await stack.bus.waitRun(top.eventId)).toMatchObject({ success: 1 });
  });

  it('skips the models whose upstream failed in the run (UPSTREAM_FAILED), keeping their tables', async () => {
    await stack.app.setCardSql(id.base, 'select id, amount from no_such_table');
    const req = await stack.bus.request({ databaseId: dbId, trigger: 'manual' });
    const done = await stack.bus.waitRun(req.eventId);
    expect(done).toMatchObject({ success: 0, error: 1, skipped: 2 });
    const failed = stack.bus.events('RefreshFailed', req.eventId);
    expect(failed.find((e) => e.cardId === id.base)).toMatchObject({ outcome: 'error' });
    for (const cardId of [id.mid, id.top])
      expect(failed.find((e) => e.cardId === cardId)).toMatchObject({
        outcome: 'skipped',
        errorCode: 'UPSTREAM_FAILED',
      });
    expect(await stack.app.row(id.mid)).toMatchObject({ state: 'persisted', active: true });
    expect(await cacheCount(id.mid)).toBe(515);
    expect(await topValue()).toBe(515);
  });
});
