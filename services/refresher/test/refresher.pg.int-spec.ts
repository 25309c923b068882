import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import {
  createAppDataSource,
  PersistedInfoRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { balance, partitionWeights } from '@model-persistence/messaging';
import {
  countSourceRows,
  eventually,
  openTestSourceSession,
  sourceTables,
  TestSourceDatabase,
} from '@model-persistence/testing';
import { AssignerProtocol, Partitioners } from 'kafkajs';
import {
  AppDb,
  Bus,
  createRefresherStack,
  expectIncrementalAndIndexedModel,
  expectReadsNeverFailDuringRefreshes,
  refresherEnv,
  RefresherStack,
  startRefresher,
} from './refresher.test-kit';

/*
 * The refresher against the real broker, a real app database and a real PostgreSQL source database:
 * runs driven through Kafka, states, names, events, retries by class, de-duplication, prune, recovery.
 */
jest.setTimeout(120_000);

const partitionOf = (key: string) =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: [0, 1, 2].map((partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  });

describe('refresher on PostgreSQL (real Kafka, app database and source database)', () => {
  let stack: RefresherStack;
  let app: AppDb;
  let src: TestSourceDatabase;
  let bus: Bus;
  let refresher: INestApplication;
  let dbId: number;
  const cards: Record<string, number> = {};
  const noRightsRole = `mp_norights_${randomUUID().slice(0, 6)}`;

  const tables = (schema: string) => sourceTables(src, schema);

  beforeAll(async () => {
    stack = await createRefresherStack('pg', 'postgres');
    ({ app, src, bus } = stack);
    dbId = await app.addDatabase({ name: 'pg-main', source: src.connection });
    cards.orders = await app.addCard({
      databaseId: dbId,
      name: 'Orders by id',
      sql: 'select id, amount from orders',
    });
    cards.big = await app.addCard({
      databaseId: dbId,
      name: 'Big spenders!',
      sql: 'select id from orders where amount > 500;',
    });
    cards.question = await app.addCard({ databaseId: dbId, name: 'Q', sql: 'select 1', type: 'question' });
    cards.archived = await app.addCard({ databaseId: dbId, name: 'Old', sql: 'select 1', archived: true });
    cards.broken = await app.addCard({
      databaseId: dbId,
      name: 'Broken',
      sql: 'select * from missing_table',
    });
    cards.unsafe = await app.addCard({
      databaseId: dbId,
      name: 'Unsafe',
      sql: 'select 1; drop table orders',
    });
    refresher = await startRefresher(
      refresherEnv(app.db.url, bus.prefix, { REFRESH_LEASE_MS: '6000', REFRESHER_CONCURRENCY: '3' }),
    );
  }, 90_000);

  afterAll(async () => {
    // roles are cluster-wide: drop it while the source database still exists to connect to
    await stack?.close(refresher, () =>
      src.query(`drop role if exists ${noRightsRole}`).catch(() => undefined),
    );
  });

  it('database run: creates rows, refreshes every model, records states, names, definition and events', async () => {
    const req = await bus.request({ databaseId: dbId, trigger: 'scheduled' });
    const done = await bus.waitRun(req.eventId);
    expect(done).toMatchObject({ success: 2, error: 2, skipped: 0 });
    expect(done.errorDetails.map((d) => d.cardId).sort()).toEqual([cards.broken, cards.unsafe].sort());
    expect(bus.events('RefreshRunStarted', req.eventId)).toEqual([
      expect.objectContaining({ modelCount: 4, trigger: 'scheduled', databaseId: dbId }),
    ]);

    const orders = await app.row(cards.orders);
    expect(orders).toMatchObject({ state: 'persisted', active: true, error: null, lease_owner: null });
    expect(orders.schema_name).toMatch(new RegExp(`^mp_cache_[0-9a-f]{5}_${dbId}$`));
    expect(orders.table_name).toBe(`model_${cards.orders}_orders_by_`);
    expect(orders.definition?.fieldDefinitions.map((f) => f.fieldName)).toEqual(['id', 'amount']);
    expect(orders.query_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(orders.refresh_begin!.getTime()).toBeLessThanOrEqual(orders.refresh_end!.getTime());
    expect(orders.last_success_at).not.toBeNull();
    expect(orders.last_run_id).toBe(req.eventId);
    expect(await countSourceRows(src, 'postgres', orders.schema_name, orders.table_name)).toBe(1000);

    const big = await app.row(cards.big);
    expect(big.table_name).toBe(`model_${cards.big}_big_spende`);
    expect(await app.row(cards.question)).toBeUndefined();
    expect(await app.row(cards.archived)).toBeUndefined();

    const broken = await app.row(cards.broken);
    expect(broken).toMatchObject({ state: 'error', active: false });
    expect(broken.error).toMatch(/missing_table/);
    const unsafe = await app.row(cards.unsafe);
    expect(unsafe.state).toBe('error');

    const succeeded = bus.events('RefreshSucceeded', req.eventId);
    expect(succeeded.map((e) => e.cardId).sort()).toEqual([cards.orders, cards.big].sort());
    expect(succeeded.find((e) => e.cardId === cards.orders)).toMatchObject({ rows: 1000, attempts: 1 });
    const failed = bus.events('RefreshFailed', req.eventId);
    expect(failed.find((e) => e.cardId === cards.unsafe)).toMatchObject({
      errorClass: 'unsafe-sql',
      outcome: 'error',
      attempts: 0,
    });
    expect(failed.find((e) => e.cardId === cards.broken)).toMatchObject({
      errorClass: 'query',
      outcome: 'error',
    });
    // the unsafe statement never ran
    expect(await countSourceRows(src, 'postgres', 'public', 'orders')).toBe(1000);
    expect((await tables(orders.schema_name)).filter((t) => t.startsWith('mp_'))).toEqual([]);
  });

  it('a scheduled database run skips models with their own cron; a manual database run includes them', async () => {
    const otherDb = await app.addDatabase({ name: 'pg-own-cron', source: src.connection });
    const plain = await app.addCard({ databaseId: otherDb, name: 'Plain', sql: 'select id from orders' });
    const own = await app.addCard({
      databaseId: otherDb,
      name: 'Own schedule',
      sql: 'select id from orders',
      refreshCron: '0 0 1 * * ? *',
    });
    const scheduled = await bus.request({ databaseId: otherDb, trigger: 'scheduled' });
    expect(await bus.waitRun(scheduled.eventId)).toMatchObject({ success: 1, error: 0, skipped: 0 });
    expect(bus.events('RefreshRunStarted', scheduled.eventId)).toEqual([
      expect.objectContaining({ modelCount: 1 }),
    ]);
    expect(bus.events('RefreshSucceeded', scheduled.eventId).map((e) => e.cardId)).toEqual([plain]);
    expect((await app.row(own)).state).toBe('creating'); // tracked, waiting for its own schedule

    const manual = await bus.request({ databaseId: otherDb, trigger: 'manual' });
    expect(await bus.waitRun(manual.eventId)).toMatchObject({ success: 2, error: 0 });
    expect((await app.row(own)).state).toBe('persisted');
  });

  it('a redelivered request (same eventId) does not refresh twice', async () => {
    const req = createEvent('RefreshRequested', {
      databaseId: dbId,
      cardId: cards.orders,
      trigger: 'manual',
    });
    await bus.send(req, String(dbId));
    await bus.waitRun(req.eventId);
    const first = await app.row(cards.orders);
    await bus.send(req, String(dbId)); // redelivery
    const marker = await bus.request({ databaseId: dbId, cardId: cards.big, trigger: 'manual' });
    await bus.waitRun(marker.eventId); // same partition: the redelivery was handled before the marker
    expect(bus.events('RefreshRunCompleted', req.eventId)).toHaveLength(1);
    expect(bus.events('RefreshSucceeded', req.eventId)).toHaveLength(1);
    expect((await app.row(cards.orders)).refresh_begin).toEqual(first.refresh_begin);
  });

  it('individual runs with an unknown card, a question or an unknown database fail with a clear reason', async () => {
    const unknownCard = await bus.request({ databaseId: dbId, cardId: 987_654, trigger: 'manual' });
    const question = await bus.request({ databaseId: dbId, cardId: cards.question, trigger: 'manual' });
    const unknownDb = await bus.request({ databaseId: 424_242, cardId: cards.orders, trigger: 'manual' });
    const unknownDbRun = await bus.request({ databaseId: 424_243, trigger: 'scheduled' });
    for (const r of [unknownCard, question, unknownDb])
      expect(await bus.waitRun(r.eventId)).toMatchObject({ error: 1 });
    expect(bus.events('RefreshFailed', unknownCard.eventId)[0]).toMatchObject({
      errorCode: 'UNKNOWN_CARD',
      persistedInfoId: null,
      message: `card 987654 does not exist`,
    });
    expect(bus.events('RefreshFailed', question.eventId)[0]).toMatchObject({ errorCode: 'NOT_A_MODEL' });
    expect(bus.events('RefreshFailed', question.eventId)[0].message).toMatch(/question, not a model/);
    expect(bus.events('RefreshFailed', unknownDb.eventId)[0]).toMatchObject({
      errorCode: 'UNKNOWN_DATABASE',
    });
    // a database run of an unknown database: empty run, and the request is kept with its reason
    expect(await bus.waitRun(unknownDbRun.eventId)).toMatchObject({ success: 0, error: 0, skipped: 0 });
    const [letter] = await bus.recorder.waitFor(
      (m) => m.event?.type === 'DeadLetter' && m.event.reason.includes('database 424243 does not exist'),
    );
    expect(letter.event).toMatchObject({ errorCode: 'UNKNOWN_DATABASE' });
  });

  it('readers of the cache table never see an error or a partial table while refreshes run through Kafka', async () => {
    await expectReadsNeverFailDuringRefreshes({ app, bus, src, databaseId: dbId, cardId: cards.orders });
  });

  it('runs different databases in parallel and one database at a time', async () => {
    // two databases whose keys land on different partitions
    const ids: number[] = [];
    while (ids.length < 2) {
      const id = await app.addDatabase({
        name: `pg-par-${randomUUID().slice(0, 6)}`,
        source: src.connection,
      });
      if (ids.length === 0 || partitionOf(String(id)) !== partitionOf(String(ids[0]))) ids.push(id);
      else await app.client.query('update "database" set persist_models_enabled = false where id = $1', [id]);
    }
    for (const id of ids)
      await app.addCard({ databaseId: id, name: `slow ${id}`, sql: 'select 1 as s from pg_sleep(2)' });
    const a1 = await bus.request({ databaseId: ids[0], trigger: 'manual' });
    const b1 = await bus.request({ databaseId: ids[1], trigger: 'manual' });
    const a2 = await bus.request({ databaseId: ids[0], trigger: 'manual' });
    const [ra1, rb1, ra2] = [
      await bus.waitRun(a1.eventId),
      await bus.waitRun(b1.eventId),
      await bus.waitRun(a2.eventId),
    ];
    for (const r of [ra1, rb1, ra2]) expect(r.success).toBe(1);
    // different databases overlapped …
    expect(Date.parse(rb1.startedAt)).toBeLessThan(Date.parse(ra1.endedAt));
    // … the same database did not
    expect(Date.parse(ra2.startedAt)).toBeGreaterThanOrEqual(Date.parse(ra1.endedAt));
  });

  it('retries by error class: timeout once with twice the timeout, connection 3 times, permission at once', async () => {
    await src.query(`create role ${noRightsRole} login`);
    const slowDb = await app.addDatabase({
      name: 'pg-slow',
      source: src.connection,
      statementTimeoutMs: 1200,
    });
    const slow = await app.addCard({
      databaseId: slowDb,
      name: 'Slow',
      sql: 'select 1 as s from pg_sleep(1.5)',
    });
    const downDb = await app.addDatabase({ name: 'pg-down', source: src.connection, port: 1 });
    const down = await app.addCard({ databaseId: downDb, name: 'Down', sql: 'select 1 as x' });
    const deniedDb = await app.addDatabase({
      name: 'pg-denied',
      source: src.connection,
      username: noRightsRole,
      password: 'whatever',
    });
    const denied = await app.addCard({ databaseId: deniedDb, name: 'Denied', sql: 'select 1 as x' });

    const rSlow = await bus.request({ databaseId: slowDb, cardId: slow, trigger: 'manual' });
    const rDown = await bus.request({ databaseId: downDb, cardId: down, trigger: 'manual' });
    const rDenied = await bus.request({ databaseId: deniedDb, cardId: denied, trigger: 'manual' });
    expect(await bus.waitRun(rSlow.eventId)).toMatchObject({ success: 1 });
    expect(bus.events('RefreshSucceeded', rSlow.eventId)[0].attempts).toBe(2);
    expect(await bus.waitRun(rDown.eventId)).toMatchObject({ error: 1 });
    expect(bus.events('RefreshFailed', rDown.eventId)[0]).toMatchObject({
      errorClass: 'connection',
      errorCode: 'SOURCE_CONNECTION',
      attempts: 4,
    });
    expect(await bus.waitRun(rDenied.eventId)).toMatchObject({ error: 1 });
    expect(bus.events('RefreshFailed', rDenied.eventId)[0]).toMatchObject({
      errorClass: 'permission',
      attempts: 1,
    });
    expect(await app.row(denied)).toMatchObject({ state: 'error', active: false });
  });

  it('a lock on the cache table skips the model this run and leaves its state unchanged', async () => {
    const before = await app.row(cards.big);
    const locker = await openTestSourceSession(src.connection);
    await locker.query('begin');
    await locker.query(`lock table "${before.schema_name}"."${before.table_name}" in access share mode`);
    try {
      const r = await bus.request({ databaseId: dbId, cardId: cards.big, trigger: 'manual' });
      expect(await bus.waitRun(r.eventId, 90_000)).toMatchObject({ skipped: 1, error: 0, success: 0 });
      expect(bus.events('RefreshFailed', r.eventId)[0]).toMatchObject({
        outcome: 'skipped',
        errorClass: 'lock',
      });
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
    const after = await app.row(cards.big);
    expect(after).toMatchObject({ state: before.state, active: before.active, lease_owner: null });
    expect(after.state_change_at).toEqual(before.state_change_at);
    expect(after.refresh_begin).toEqual(before.refresh_begin);
  });

  it('takes over a row left refreshing by a dead run and drops leftover temporary tables', async () => {
    const info = await app.row(cards.big);
    await app.client.query(
      `update persisted_info set state = 'refreshing', lease_owner = 'dead-refresher',
              lease_expires_at = now() - interval '1 minute' where id = $1`,
      [info.id],
    );
    await src.query(`create table "${info.schema_name}"."mp_tmp_0123456789_leftover" as select 1 as x`);
    const r = await bus.request({ databaseId: dbId, trigger: 'scheduled' });
    await bus.waitRun(r.eventId);
    expect(bus.events('RefreshSucceeded', r.eventId).map((e) => e.cardId)).toContain(cards.big);
    expect(await app.row(cards.big)).toMatchObject({ state: 'persisted', lease_owner: null });
    expect((await tables(info.schema_name)).filter((t) => t.startsWith('mp_'))).toEqual([]);
    expect(await app.rows(`state = 'refreshing'`)).toEqual([]);
  });

  it('prune drops tables of long-deletable rows and of archived, question or deleted cards; keeps off rows', async () => {
    const mk = async (name: string) => {
      const id = await app.addCard({ databaseId: dbId, name, sql: 'select 1 as x' });
      const r = await bus.request({ databaseId: dbId, cardId: id, trigger: 'manual' });
      expect(await bus.waitRun(r.eventId)).toMatchObject({ success: 1 });
      return { id, info: await app.row(id) };
    };
    const [oldDel, newDel, archived, question, gone, off] = [
      await mk('old deletable'),
      await mk('new deletable'),
      await mk('archived'),
      await mk('question'),
      await mk('gone'),
      await mk('off'),
    ];
    await app.client.query(
      `update persisted_info set state = 'deletable', state_change_at = now() - interval '10 minutes' where id = $1`,
      [oldDel.info.id],
    );
    await app.client.query(
      `update persisted_info set state = 'deletable', state_change_at = now() where id = $1`,
      [newDel.info.id],
    );
    await app.client.query('update card set archived = true where id = any($1)', [[archived.id, off.id]]);
    await app.client.query(`update card set type = 'question' where id = $1`, [question.id]);
    await app.client.query('delete from card where id = $1', [gone.id]);
    await app.client.query(`update persisted_info set state = 'off' where id = $1`, [off.info.id]);

    const req = await bus.prune({ graceMs: 5 * 60_000 });
    const [done] = await bus.recorder.waitFor(
      (m) => m.event?.type === 'PruneRunCompleted' && m.event.runId === req.eventId,
    );
    expect(done.event).toMatchObject({ success: 5, error: 0, skipped: 0 });
    expect(bus.events('PruneRunStarted', req.eventId)[0]).toMatchObject({ candidateCount: 5 });
    const left = await tables(oldDel.info.schema_name);
    for (const x of [oldDel, archived, question, gone, off]) expect(left).not.toContain(x.info.table_name);
    expect(left).toContain(newDel.info.table_name);
    const remaining = (await app.rows()).map((r) => r.id);
    for (const x of [oldDel, archived, question, gone]) expect(remaining).not.toContain(x.info.id);
    expect(remaining).toContain(off.info.id);
    expect(remaining).toContain(newDel.info.id);
  });

  it('unpersisting the database mid-refresh wins: the build is cancelled on the server, no success, the row stays deletable, prune drops the table', async () => {
    const offDb = await app.addDatabase({ name: 'pg-turned-off', source: src.connection });
    const id = await app.addCard({ databaseId: offDb, name: 'Turned off', sql: 'select id from orders' });
    const first = await bus.request({ databaseId: offDb, cardId: id, trigger: 'manual' });
    expect(await bus.waitRun(first.eventId)).toMatchObject({ success: 1 });
    const info = await app.row(id);
    expect(await tables(info.schema_name)).toContain(info.table_name);

    const marker = `mp_slow_${randomUUID().slice(0, 8)}`;
    await app.setCardSql(
      id,
      `select o.id, '${marker}' as m from orders o, (select 1 as z from pg_sleep(40)) s`,
    );
    const building = async () =>
      (
        await src.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where state = 'active' and pid <> pg_backend_pid() and query like $1`,
          [`%${marker}%pg_sleep%`],
        )
      )[0].n;
    const run = await bus.request({ databaseId: offDb, cardId: id, trigger: 'manual' });
    await eventually(async () => (await building()) > 0, 30_000);

    // what the API's database unpersist writes, through the same repository
    const ds = createAppDataSource({ url: app.db.url, poolSize: 1 });
    await ds.initialize();
    try {
      await ds.transaction(async (m) => {
        await new PersistedInfoRepository(ds).markDeletable(offDb, m);
        await m.query('update "database" set persist_models_enabled = false where id = $1', [offDb]);
      });
    } finally {
      await ds.destroy();
    }

    // cancelled on the server long before the 40 s sleep would end
    await eventually(async () => (await building()) === 0, 15_000);
    const done = await bus.waitRun(run.eventId, 30_000);
    expect(done).toMatchObject({ success: 0, error: 0, skipped: 1 });
    expect(bus.events('RefreshSucceeded', run.eventId)).toEqual([]);
    expect(bus.events('RefreshFailed', run.eventId)[0]).toMatchObject({
      outcome: 'skipped',
      errorCode: 'ILLEGAL_STATE_TRANSITION',
    });
    expect(await app.row(id)).toMatchObject({ state: 'deletable', active: false, lease_owner: null });

    const prune = await bus.prune({ graceMs: 0 });
    await bus.recorder.waitFor(
      (m) => m.event?.type === 'PruneRunCompleted' && m.event.runId === prune.eventId,
    );
    expect(await tables(info.schema_name)).not.toContain(info.table_name);
    expect(await app.row(id)).toBeUndefined();
  });

  it('one request delivered twice at once to the same refresher (another key, another consumer) runs and completes once', async () => {
    const dupDb = await app.addDatabase({ name: 'pg-dup', source: src.connection });
    await app.addCard({ databaseId: dupDb, name: 'Slow', sql: 'select 1 as s from pg_sleep(1)' });
    await app.addCard({ databaseId: dupDb, name: 'Broken dup', sql: 'select * from missing_dup_table' });
    const run = createEvent('RefreshRequested', { databaseId: dupDb, trigger: 'manual' });
    // the same event on another partition reaches another of this refresher's consumers while the first runs it
    // (as a redelivery does while the first delivery is still being handled)
    const other = ['a', 'b', 'c', 'd', 'e', 'f'].find((k) => partitionOf(k) !== partitionOf(String(dupDb)))!;
    await Promise.all([bus.send(run, String(dupDb)), bus.send(run, other)]);
    await bus.waitRun(run.eventId, 60_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(bus.events('RefreshRunCompleted', run.eventId)).toHaveLength(1);
    expect(bus.events('RefreshRunStarted', run.eventId)).toHaveLength(1);
    expect(bus.events('RefreshSucceeded', run.eventId)).toHaveLength(1);
    expect(bus.events('RefreshFailed', run.eventId)).toHaveLength(1);
  });

  it('a run executed by two live refreshers at once (a rebalance) is completed once on the wire', async () => {
    const twiceDb = await app.addDatabase({ name: 'pg-twice', source: src.connection });
    await app.addCard({ databaseId: twiceDb, name: 'Twice', sql: 'select 1 as s from pg_sleep(2)' });
    // a second live refresher that receives the same request (as the new owner of a partition does while the
    // old owner still runs it)
    const second = await startRefresher(
      refresherEnv(app.db.url, bus.prefix, {
        REFRESH_LEASE_MS: '6000',
        REFRESHER_CONSUMER_GROUP: `refresher-${bus.prefix}-second`,
        INSTANCE_ID: `second-${randomUUID().slice(0, 6)}`,
      }),
    );
    try {
      const run = await bus.request({ databaseId: twiceDb, trigger: 'manual' });
      await bus.waitRun(run.eventId, 60_000);
      // both refreshers are done with the model: one outcome each
      await bus.recorder.waitFor(
        (m) =>
          (m.event?.type === 'RefreshSucceeded' || m.event?.type === 'RefreshFailed') &&
          m.event.runId === run.eventId,
        2,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(bus.events('RefreshRunCompleted', run.eventId)).toHaveLength(1);
      expect(bus.events('RefreshSucceeded', run.eventId)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('replicas share partitions by the work the databases on them carry, not by partition count', async () => {
    // more databases, with different numbers of models, so the three partitions weigh differently
    for (const [name, models] of [
      ['pg-w1', 5],
      ['pg-w2', 1],
      ['pg-w3', 0],
    ] as const) {
      const id = await app.addDatabase({ name, source: src.connection });
      for (let i = 0; i < models; i++)
        await app.addCard({ databaseId: id, name: `${name}-${i}`, sql: 'select 1 as x' });
    }
    const group = `refresher-${bus.prefix}-balance`;
    const replicas: INestApplication[] = [];
    const admin = bus.kafka.admin();
    await admin.connect();
    try {
      for (const n of [1, 2])
        replicas.push(
          await startRefresher(
            refresherEnv(app.db.url, bus.prefix, {
              REFRESHER_CONSUMER_GROUP: group,
              REFRESHER_CONCURRENCY: '1',
              INSTANCE_ID: `balance-${n}-${randomUUID().slice(0, 6)}`,
            }),
          ),
        );
      const topic = topicName(bus.prefix, Topics.RefreshRequested);
      // what the broker reports the group runs, against the weights the app database gives right now
      const seen = await eventually(async () => {
        const {
          groups: [g],
        } = await admin.describeGroups([group]);
        if (g.state !== 'Stable' || g.members.length !== 2) return null;
        return g;
      }, 60_000);
      expect(seen.protocol).toBe('DatabaseWeightedAssigner');
      const ds = createAppDataSource({ url: app.db.url, poolSize: 1 });
      await ds.initialize();
      const weights = partitionWeights(
        await new SourceDatabaseRepository(ds).refreshWeights().finally(() => ds.destroy()),
        3,
      );
      // the three new databases make the partitions differ (else any assignment would do)
      expect(new Set(weights).size).toBeGreaterThan(1);
      const got = new Map(
        seen.members.map((m) => [
          m.memberId,
          AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
        ]),
      );
      expect(got).toEqual(balance([...got.keys()], weights));
    } finally {
      await admin.disconnect();
      for (const r of replicas) await r.close();
    }
  });

  it('managed indexes and incremental refresh: full first build with indexes, merge, full on request, coded index error', async () => {
    await expectIncrementalAndIndexedModel({ app, src, bus, dbId, engine: 'postgres' });
  });
});
