import { INestApplication } from '@nestjs/common';
import { TestSourceDatabase } from '@model-persistence/testing';
import {
  AppDb,
  Bus,
  createRefresherStack,
  expectKillDuringLongRefreshRecovers,
  refresherEnv,
  RefresherStack,
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
  let stack: RefresherStack;
  let app: AppDb;
  let src: TestSourceDatabase;
  let bus: Bus;
  let dbId: number;
  let cardId: number;

  const setSql = (sql: string) => app.setCardSql(cardId, sql);

  beforeAll(async () => {
    stack = await createRefresherStack('crash', 'postgres');
    ({ app, src, bus } = stack);
    dbId = await app.addDatabase({ name: 'pg-crash', source: src.connection });
    cardId = await app.addCard({
      databaseId: dbId,
      name: 'Slow orders',
      sql: 'select id, amount from orders',
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
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
    await expectKillDuringLongRefreshRecovers({
      app,
      bus,
      src,
      databaseId: dbId,
      cardId,
      slowSql: SLOW_SQL(12),
      instancePrefix: 'refresher',
      group: `refresher-crash-${bus.prefix}`,
    });
  });
});
