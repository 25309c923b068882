import { INestApplication } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, ServiceProcess } from '@model-persistence/testing';
import { Client } from 'pg';
import {
  AppDb,
  Bus,
  createBus,
  createSourcePg,
  PG_HOST,
  PG_PORT,
  refresherEnv,
  SourcePg,
  startRefresher,
} from './refresher.test-kit';

/*
 * Long refreshes and crashes: a refresh far longer than the Kafka session timeout keeps its consumer in the
 * group (heartbeats), and a refresher killed with SIGKILL mid-refresh is replaced by another one that
 * completes the redelivered request while the old cache table keeps serving reads.
 */
jest.setTimeout(180_000);

const SLOW_SQL = (seconds: number) =>
  `select o.id, o.amount from orders o, (select 1 as z from pg_sleep(${seconds})) s`;

describe('refresher: long refreshes and kill -9 (real Kafka, PostgreSQL, compiled service)', () => {
  let app: AppDb;
  let src: SourcePg;
  let bus: Bus;
  let dbId: number;
  let cardId: number;

  const setSql = (sql: string) =>
    app.client.query('update card set query_sql = $1 where id = $2', [sql, cardId]);

  /** Reads the cache table in a loop; resolves to what it saw once stopped. */
  function startReader(schema: string, table: string) {
    const reader = new Client({ host: PG_HOST, port: PG_PORT, user: 'postgres', database: src.name });
    let stop = false;
    const seen: number[] = [];
    const errors: string[] = [];
    const done = (async () => {
      await reader.connect();
      while (!stop) {
        try {
          const r = await reader.query(`select count(*)::int as n from "${schema}"."${table}"`);
          seen.push(r.rows[0].n as number);
        } catch (e) {
          errors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      await reader.end();
      return { seen, errors };
    })();
    return {
      stop: async () => {
        stop = true;
        return done;
      },
    };
  }

  beforeAll(async () => {
    [app, src, bus] = await Promise.all([
      AppDb.create('refreshercrash'),
      createSourcePg('refcrash'),
      createBus('refcrash'),
    ]);
    await src.client.query(
      `create table orders as select g as id, (g % 100)::numeric as amount from generate_series(1, 1000) g`,
    );
    dbId = await app.addDatabase({ name: 'pg-crash', engine: 'postgres', dbName: src.name });
    cardId = await app.addCard({
      databaseId: dbId,
      name: 'Slow orders',
      sql: 'select id, amount from orders',
    });
  }, 60_000);

  afterAll(async () => {
    await bus?.stop();
    await src?.drop();
    await app?.close();
  });

  it('a refresh longer than the session timeout causes no rebalance and no duplicate run', async () => {
    const group = `refresher-long-${bus.prefix}`;
    const refresher: INestApplication = await startRefresher(
      refresherEnv(app.db.url, bus.prefix, {
        REFRESHER_CONSUMER_GROUP: group,
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        REFRESHER_CONCURRENCY: '1',
        REFRESH_LEASE_MS: '6000',
      }),
    );
    const admin = bus.kafka.admin();
    await admin.connect();
    try {
      const members = async () =>
        (await admin.describeGroups([group])).groups[0].members.map((m) => m.memberId).sort();
      const warm = await bus.request({ databaseId: dbId, cardId, trigger: 'manual' });
      await bus.waitRun(warm.eventId);
      const before = await members();
      expect(before).toHaveLength(1);

      await setSql(SLOW_SQL(20)); // > 3 session timeouts
      const req = await bus.request({ databaseId: dbId, trigger: 'manual' });
      const done = await bus.waitRun(req.eventId, 90_000);
      expect(done).toMatchObject({ success: 1, error: 0 });
      expect(done.durationMs).toBeGreaterThanOrEqual(20_000);
      expect(await members()).toEqual(before);
      // give a duplicate delivery (had there been a rebalance) time to show up, then count
      const marker = await bus.request({ databaseId: dbId, cardId: 999_999, trigger: 'manual' });
      await bus.waitRun(marker.eventId);
      expect(bus.events('RefreshRunStarted', req.eventId)).toHaveLength(1);
      expect(bus.events('RefreshSucceeded', req.eventId)).toHaveLength(1);
    } finally {
      await admin.disconnect();
      await refresher.close();
      await setSql('select id, amount from orders');
    }
  });

  it('kill -9 during a long refresh: another refresher completes the redelivered request, reads never fail', async () => {
    const main = join(__dirname, '..', 'dist', 'main.js');
    if (!existsSync(main))
      throw new Error(`${main} is missing: build first with npx tsc -b tsconfig.build.json`);
    const env = (instance: string) =>
      refresherEnv(app.db.url, bus.prefix, {
        REFRESHER_CONSUMER_GROUP: `refresher-crash-${bus.prefix}`,
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        REFRESHER_CONCURRENCY: '1',
        REFRESH_LEASE_MS: '6000',
        INSTANCE_ID: instance,
        LOG_LEVEL: 'info',
        OTEL_SDK_DISABLED: 'true',
        METRICS_PORT: '0',
      });
    const first = await new ServiceProcess('refresher', env('refresher-a')).start(
      /refresher started \(instance/,
    );
    let second: ServiceProcess | undefined;
    let reader: ReturnType<typeof startReader> | undefined;
    try {
      const warm = await bus.request({ databaseId: dbId, cardId, trigger: 'manual' });
      expect(await bus.waitRun(warm.eventId)).toMatchObject({ success: 1 });
      const info = await app.row(cardId);
      reader = startReader(info.schema_name, info.table_name);

      await setSql(SLOW_SQL(12));
      const req = await bus.request({ databaseId: dbId, trigger: 'scheduled' });
      await eventually(async () => {
        const r = await app.row(cardId);
        return r.state === 'refreshing' && r.lease_owner === 'refresher-a';
      }, 60_000);
      await first.kill();

      second = await new ServiceProcess('refresher', env('refresher-b')).start(
        /refresher started \(instance/,
      );
      const done = await bus.waitRun(req.eventId, 120_000);
      expect(done).toMatchObject({ success: 1, error: 0 });
      expect(bus.events('RefreshSucceeded', req.eventId)).toHaveLength(1);

      const row = await app.row(cardId);
      expect(row).toMatchObject({
        state: 'persisted',
        active: true,
        lease_owner: null,
        last_run_id: req.eventId,
      });
      expect(await app.rows(`state = 'refreshing'`)).toEqual([]);
      const leftovers = await src.client.query(
        `select table_name from information_schema.tables where table_schema = $1 and table_name like 'mp\\_%'`,
        [info.schema_name],
      );
      expect(leftovers.rows).toEqual([]);
      const { seen, errors } = await reader.stop();
      reader = undefined;
      expect(errors).toEqual([]);
      expect(seen.length).toBeGreaterThan(50);
      expect(new Set(seen)).toEqual(new Set([1000]));
    } finally {
      await reader?.stop();
      await first.kill();
      await second?.stop();
    }
  });
});
