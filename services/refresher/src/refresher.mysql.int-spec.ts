import { INestApplication } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, ServiceProcess } from '@model-persistence/testing';
import { createConnection } from 'mysql2/promise';
import {
  AppDb,
  Bus,
  createBus,
  createSourceMysql,
  MYSQL_PORT,
  PG_HOST,
  refresherEnv,
  SourceMysql,
  startRefresher,
} from './refresher.test-kit';

/*
 * The refresher against MariaDB (real Kafka and app database): database runs, the single RENAME TABLE swap
 * seen by a concurrent reader, retries of a statement timeout, prune.
 */
jest.setTimeout(120_000);

describe('refresher on MariaDB (real Kafka, app database and source database)', () => {
  let app: AppDb;
  let src: SourceMysql;
  let bus: Bus;
  let refresher: INestApplication;
  let dbId: number;
  let schema: string;
  const extraSchemas: string[] = [];
  const cards: Record<string, number> = {};

  const tables = async () => {
    const [rows] = await src.conn.query(
      'select TABLE_NAME as t from information_schema.TABLES where TABLE_SCHEMA = ? order by 1',
      [schema],
    );
    return (rows as { t: string }[]).map((r) => r.t);
  };

  beforeAll(async () => {
    [app, src, bus] = await Promise.all([
      AppDb.create('refreshermy'),
      createSourceMysql('refmy'),
      createBus('refmy'),
    ]);
    await src.conn.query('create table orders (id int primary key, amount decimal(10,2))');
    await src.conn.query(
      `insert into orders
       select seq, seq % 1000 from (select a.n + b.n * 10 + c.n * 100 + 1 as seq
         from (select 0 n union all select 1 union all select 2 union all select 3 union all select 4
               union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) a,
              (select 0 n union all select 1 union all select 2 union all select 3 union all select 4
               union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) b,
              (select 0 n union all select 1 union all select 2 union all select 3 union all select 4
               union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) c) s`,
    );
    dbId = await app.addDatabase({
      name: 'maria',
      engine: 'mysql',
      dbName: src.name,
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
    await refresher?.close();
    await bus?.stop();
    for (const x of [schema, ...extraSchemas].filter(Boolean))
      await src?.conn.query(`drop database if exists \`${x}\``).catch(() => undefined);
    await src?.drop();
    await app?.close();
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
    const [rows] = await src.conn.query(`select count(*) as n from \`${schema}\`.\`${orders.table_name}\``);
    expect(Number((rows as { n: number }[])[0].n)).toBe(1000);
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
    const info = await app.row(cards.orders);
    const reader = await createConnection({ host: PG_HOST, port: MYSQL_PORT, user: 'root' });
    let stop = false;
    const seen: number[] = [];
    const errors: string[] = [];
    const loop = (async () => {
      while (!stop) {
        try {
          const [r] = await reader.query(
            `select count(*) as n from \`${info.schema_name}\`.\`${info.table_name}\``,
          );
          seen.push(Number((r as { n: number }[])[0].n));
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    })();
    const runs = [];
    for (let i = 0; i < 5; i++)
      runs.push(await bus.request({ databaseId: dbId, cardId: cards.orders, trigger: 'manual' }));
    for (const r of runs) expect(await bus.waitRun(r.eventId)).toMatchObject({ success: 1 });
    stop = true;
    await loop;
    await reader.end();
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(20);
    expect(new Set(seen)).toEqual(new Set([1000]));
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
    const main = join(__dirname, '..', 'dist', 'main.js');
    if (!existsSync(main))
      throw new Error(`${main} is missing: build first with npx tsc -b tsconfig.build.json`);
    await refresher.close(); // the spawned refreshers take over this group
    const crashDb = await app.addDatabase({ name: 'maria-crash', engine: 'mysql', dbName: src.name });
    const card = await app.addCard({
      databaseId: crashDb,
      name: 'Crash',
      sql: 'select id, amount from orders',
    });
    const env = (instance: string) =>
      refresherEnv(app.db.url, bus.prefix, {
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        REFRESHER_CONCURRENCY: '1',
        REFRESH_LEASE_MS: '6000',
        INSTANCE_ID: instance,
        LOG_LEVEL: 'info',
        OTEL_SDK_DISABLED: 'true',
        METRICS_PORT: '0',
      });
    const first = await new ServiceProcess('refresher', env('maria-a')).start(/refresher started \(instance/);
    let second: ServiceProcess | undefined;
    const reader = await createConnection({ host: PG_HOST, port: MYSQL_PORT, user: 'root' });
    let stop = false;
    const seen: number[] = [];
    const errors: string[] = [];
    let loop: Promise<void> | undefined;
    try {
      const warm = await bus.request({ databaseId: crashDb, cardId: card, trigger: 'manual' });
      expect(await bus.waitRun(warm.eventId, 60_000)).toMatchObject({ success: 1 });
      const info = await app.row(card);
      extraSchemas.push(info.schema_name);
      loop = (async () => {
        while (!stop) {
          try {
            const [r] = await reader.query(
              `select count(*) as n from \`${info.schema_name}\`.\`${info.table_name}\``,
            );
            seen.push(Number((r as { n: number }[])[0].n));
          } catch (e) {
            errors.push((e as Error).message);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await app.client.query('update card set query_sql = $1 where id = $2', [
        'select o.id, o.amount from orders o, (select sleep(12) as z) s',
        card,
      ]);
      const req = await bus.request({ databaseId: crashDb, trigger: 'scheduled' });
      await eventually(async () => {
        const r = await app.row(card);
        return r.state === 'refreshing' && r.lease_owner === 'maria-a';
      }, 60_000);
      await first.kill();
      second = await new ServiceProcess('refresher', env('maria-b')).start(/refresher started \(instance/);
      const done = await bus.waitRun(req.eventId, 120_000);
      expect(done).toMatchObject({ success: 1, error: 0 });
      expect(await app.row(card)).toMatchObject({ state: 'persisted', active: true, lease_owner: null });
      expect(await app.rows(`state = 'refreshing'`)).toEqual([]);
      const [left] = await src.conn.query(
        `select TABLE_NAME as t from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME like 'mp\\_%'`,
        [info.schema_name],
      );
      expect(left).toEqual([]);
      stop = true;
      await loop;
      expect(errors).toEqual([]);
      expect(seen.length).toBeGreaterThan(50);
      expect(new Set(seen)).toEqual(new Set([1000]));
    } finally {
      stop = true;
      await loop;
      await reader.end();
      await first.kill();
      await second?.stop();
    }
  }, 180_000);
});
