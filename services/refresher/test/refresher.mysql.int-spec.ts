import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { MysqlSourceDriver, SourceError } from '@model-persistence/source-db';
import { countSourceRows, sourceTables, TestSourceDatabase } from '@model-persistence/testing';
import {
  AppDb,
  Bus,
  createRefresherStack,
  expectIncrementalAndIndexedModel,
  expectKillDuringLongRefreshRecovers,
  expectReadsNeverFailDuringRefreshes,
  refresherEnv,
  RefresherStack,
  startRefresher,
} from './refresher.test-kit';

/*
 * The refresher against MariaDB (real Kafka and app database): database runs, the single RENAME TABLE swap
 * seen by a concurrent reader, retries of a statement timeout, prune.
 */
jest.setTimeout(120_000);

describe('refresher on MariaDB (real Kafka, app database and source database)', () => {
  let stack: RefresherStack;
  let app: AppDb;
  let src: TestSourceDatabase;
  let bus: Bus;
  let refresher: INestApplication;
  let dbId: number;
  let schema: string;
  const cards: Record<string, number> = {};

  const tables = () => sourceTables(src, schema);

  beforeAll(async () => {
    stack = await createRefresherStack('my', 'mysql');
    ({ app, src, bus } = stack);
    dbId = await app.addDatabase({
      name: 'maria',
      source: src.connection,
      statementTimeoutMs: 1500,
    });
    cards.orders = await app.addCard({
      databaseId: dbId,
      name: 'Orders by id',
      sql: 'select id, amount from orders',
    });
    cards.slow = await app.addCard({
      databaseId: dbId,
      name: 'Slow',
      sql: 'select id, sleep(0.002) as z from orders where id <= 1000',
    });
    cards.broken = await app.addCard({
      databaseId: dbId,
      name: 'Broken',
      sql: 'select * from missing_table',
    });
    refresher = await startRefresher(refresherEnv(app.db.url, bus.prefix, { REFRESH_LEASE_MS: '6000' }));
  }, 90_000);

  afterAll(async () => {
    // the cache schemas are databases of their own on MySQL
    await stack?.close(refresher, async () => {
      const schemas = new Set([schema, ...(await app.rows()).map((r) => r.schema_name)]);
      for (const x of [...schemas].filter(Boolean))
        await src.query(`drop database if exists \`${x}\``).catch(() => undefined);
    });
  });

  it('database run: rows, states, names, definition and events; a timeout is retried with twice the timeout', async () => {
    const req = await bus.request({ databaseId: dbId, trigger: 'scheduled' });
    const done = await bus.waitRun(req.eventId);
    expect(done).toMatchObject({ success: 2, error: 1, skipped: 0 });
    const orders = await app.row(cards.orders);
    schema = orders.schema_name;
    expect(orders).toMatchObject({
      state: 'persisted',
      active: true,
      table_name: `model_${cards.orders}_orders_by_`,
    });
    expect(schema).toMatch(new RegExp(`^mp_cache_[0-9a-f]{5}_${dbId}$`));
    expect(orders.definition?.fieldDefinitions.map((f) => f.fieldName)).toEqual(['id', 'amount']);
    expect(await countSourceRows(src, 'mysql', schema, orders.table_name)).toBe(1000);
    // ~2 s of sleep() against a 1.5 s timeout: the retry with 3 s succeeds
    expect(bus.events('RefreshSucceeded', req.eventId).find((e) => e.cardId === cards.slow)?.attempts).toBe(
      2,
    );
    expect(bus.events('RefreshFailed', req.eventId)[0]).toMatchObject({
      cardId: cards.broken,
      errorClass: 'query',
    });
    expect((await app.row(cards.broken)).state).toBe('error');
    expect((await tables()).filter((t) => t.startsWith('mp_'))).toEqual([]);
  });

  it('readers of the cache table never see an error or a partial table while refreshes run through Kafka', async () => {
    await expectReadsNeverFailDuringRefreshes({ app, bus, src, databaseId: dbId, cardId: cards.orders });
  });

  it('prune drops the table of an archived model and deletes its row', async () => {
    const info = await app.row(cards.orders);
    await app.client.query('update card set archived = true where id = $1', [cards.orders]);
    const req = await bus.prune();
    const [done] = await bus.recorder.waitFor(
      (m) => m.event?.type === 'PruneRunCompleted' && m.event.runId === req.eventId,
    );
    expect(done.event).toMatchObject({ success: 1, error: 0, skipped: 0 });
    expect(await tables()).not.toContain(info.table_name);
    expect(await app.row(cards.orders)).toBeUndefined();
  });

  it('kill -9 during a long MariaDB refresh: another refresher completes it, no temp table left, reads never fail', async () => {
    await refresher.close(); // the spawned refreshers take over this group
    const crashDb = await app.addDatabase({ name: 'maria-crash', source: src.connection });
    const card = await app.addCard({
      databaseId: crashDb,
      name: 'Crash',
      sql: 'select id, amount from orders',
    });
    await expectKillDuringLongRefreshRecovers({
      app,
      bus,
      src,
      databaseId: crashDb,
      cardId: card,
      slowSql: 'select o.id, o.amount from orders o, (select sleep(12) as z) s',
      instancePrefix: 'maria',
    });
  }, 180_000);

  it('fencing: an older build never swaps over a newer one; the newer build stops it and keeps its own table', async () => {
    const fenceSchema = `mp_fence_${randomUUID().slice(0, 8)}`;
    const driver = new MysqlSourceDriver(src.connection);
    try {
      // the older build (generation 1) is still building when the newer one (generation 2) starts and swaps
      const older = driver.refreshTable({
        schemaName: fenceSchema,
        tableName: 'model_1_fenced',
        sql: 'select o.id, 1 as v from orders o, (select sleep(3) as z) s',
        statementTimeoutMs: 60_000,
        fence: { generation: 1 },
      });
      older.catch(() => undefined);
      const building = async () =>
        (
          await src.query<{ n: number }>(
            `select count(*) as n from information_schema.PROCESSLIST where INFO like '%sleep(3)%' and ID <> CONNECTION_ID()`,
          )
        )[0];
      for (let i = 0; i < 100 && Number((await building()).n) === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      await driver.refreshTable({
        schemaName: fenceSchema,
        tableName: 'model_1_fenced',
        sql: 'select o.id, 2 as v from orders o',
        statementTimeoutMs: 60_000,
        fence: { generation: 2 },
      });
      // the newer build stopped the older one's statement on the server (it could never swap anyway)
      const stopped = await older.then(
        () => null,
        (e: unknown) => e,
      );
      expect(stopped).toBeInstanceOf(SourceError);
      // an older generation that does reach the swap is refused there, and its temporary table dropped
      const refused = await driver
        .refreshTable({
          schemaName: fenceSchema,
          tableName: 'model_1_fenced',
          sql: 'select o.id, 1 as v from orders o',
          statementTimeoutMs: 60_000,
          fence: { generation: 1 },
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(refused).toBeInstanceOf(SourceError);
      expect((refused as SourceError).details).toMatchObject({ fenced: true, generation: 1, stored: 2 });
      const values = await src.query<{ v: number }>(
        `select distinct v from \`${fenceSchema}\`.model_1_fenced order by v`,
      );
      expect(values.map((r) => Number(r.v))).toEqual([2]);
      expect(await sourceTables(src, fenceSchema, 'mp\\_%')).toEqual([]);
    } finally {
      await driver.close();
      await src.query(`drop database if exists \`${fenceSchema}\``).catch(() => undefined);
    }
  });

  it('managed indexes and incremental refresh: full first build with indexes, merge, full on request, coded index error', async () => {
    // the kill -9 scenario closed this file's refresher: start one again
    refresher = await startRefresher(refresherEnv(app.db.url, bus.prefix, { REFRESH_LEASE_MS: '6000' }));
    await expectIncrementalAndIndexedModel({ app, src, bus, dbId, engine: 'mysql' });
  });
});
