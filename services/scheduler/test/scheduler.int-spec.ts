import { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import { SettingKey } from '@model-persistence/database';
import { kafkaMicroservice } from '@model-persistence/messaging';
import { eventually, produceRaw, ReceivedMessage } from '@model-persistence/testing';
import { AppModule } from '../src/app.module';
import { loadSchedulerConfig, schedulerConsumerGroup } from '../src/config';
import { SchedulerService } from '../src/scheduler.service';
import {
  createSchedulerTestBed,
  fireCounts,
  fireTime,
  SchedulerTestBed,
  schedulerEnv,
  sleep,
} from './scheduler.test-kit';

/*
 * One scheduler in-process against the real broker and app database, schedules firing every few seconds:
 * settings and triggers (points 1, 3), changes taking effect at once (4), missed fires (5), prune (6),
 * task-history clean-up (7). The three-replica test runs real processes: scheduler-replicas.int-spec.ts.
 */
let bed: SchedulerTestBed;
let app: INestMicroservice | null = null;
let instance = 0;
let db1: number, db2: number, db3: number, card10: number, card11: number;
// shorthands for the bed's parts, set in beforeAll
let ds: SchedulerTestBed['ds'];
let kafka: SchedulerTestBed['kafka'];
let recorder: SchedulerTestBed['recorder'];
let settings: SchedulerTestBed['settings'];
let databases: SchedulerTestBed['databases'];
let cards: SchedulerTestBed['cards'];
let claims: SchedulerTestBed['claims'];

const refreshes = (
  pred: (e: { databaseId: number; cardId?: number }, m: ReceivedMessage) => boolean = () => true,
) =>
  recorder.messages.filter((m) => {
    const e = m.event;
    return e?.type === 'RefreshRequested' && pred(e, m);
  });

async function startScheduler(env: Record<string, string> = {}): Promise<SchedulerService> {
  const config = loadSchedulerConfig({
    ...schedulerEnv(bed, `sched-int-${++instance}`, 4),
    PRUNE_GRACE_MS: '2000',
    SCHEDULER_PRUNE_CRON: '0/5 * * * * ? *',
    SCHEDULER_CLAIM_CLEANUP_CRON: '0/5 * * * * ? *',
    // read by the history service only: a scheduler that still trimmed task_history would cut it to 3 rows
    TASK_HISTORY_KEEP: '3',
    ...env,
  });
  app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
    ...kafkaMicroservice(config.kafka, { groupId: schedulerConsumerGroup(config) }),
    logger: ['error', 'warn'],
  });
  await app.listen();
  return app.get(SchedulerService);
}

async function stopScheduler() {
  await app?.close();
  app = null;
}

async function changed(entity: 'setting' | 'database' | 'card', entityId: number | string) {
  const event = createEvent('ConfigurationChanged', { entity, entityId, change: 'updated' });
  await produceRaw(kafka, topicName(bed.prefix, Topics.ConfigChanged), [
    { key: entity, value: JSON.stringify(event) },
  ]);
}

/** Every (schedule, fire time) was published at most once. */
function expectNoDuplicates() {
  const counts = fireCounts(recorder.messages.filter((x) => x.event?.type !== 'DeadLetter'));
  const twice = [...counts].flatMap(([key, times]) =>
    [...times].filter(([, n]) => n > 1).map(([t, n]) => [`${key}@${new Date(t).toISOString()}`, n]),
  );
  expect(twice).toEqual([]);
}

beforeAll(async () => {
  bed = await createSchedulerTestBed('scheduler', [
    Topics.RefreshRequested,
    Topics.PruneRequested,
    Topics.DeadLetter,
  ]);
  ({ ds, kafka, recorder, settings, databases, cards, claims } = bed);
  db1 = await bed.addDatabase('one', true);
  db2 = await bed.addDatabase('two', true);
  db3 = await bed.addDatabase('three', false);
  card10 = (
    await cards.create({ name: 'own cron', databaseId: db1, sql: 'select 1', refreshCron: '0/2 * * * * ? *' })
  ).id;
  card11 = (
    await cards.create({ name: 'on db 3', databaseId: db3, sql: 'select 1', refreshCron: '0/2 * * * * ? *' })
  ).id;
  await cards.create({ name: 'plain', databaseId: db1, sql: 'select 1' });
  for (let i = 0; i < 10; i++)
    await ds.query(
      `insert into task_history (task, started_at, status, run_id) values ('persist-refresh', $1, 'success', gen_random_uuid())`,
      [new Date(Date.parse('2026-01-01T00:00:00Z') + i * 60_000)],
    );
  // a claim far past the retention: the scheduler's own clean-up deletes it
  await ds.query(
    `insert into schedule_claim (schedule_key, fire_time, claimed_by, claimed_at, published_at)
     values ('database:999999', '2020-01-01T00:00:00Z', 'gone', now(), now())`,
  );
}, 60_000);

afterAll(async () => {
  await stopScheduler();
  await bed?.close();
}, 60_000);

describe('scheduler (real Kafka and PostgreSQL)', () => {
  let scheduler: SchedulerService;

  it('fires one RefreshRequested per enabled database per cron fire, per-model overrides, prune and clean-up', async () => {
    scheduler = await startScheduler();
    await recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.databaseId === db2,
      2,
      20_000,
    );
    await recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.cardId === card10,
      2,
      20_000,
    );
    const prunes = await recorder.waitFor((m) => m.event?.type === 'PruneRequested', 1, 20_000);
    expect(prunes[0].event).toMatchObject({ trigger: 'scheduled', requestedBy: 'scheduler' });
    expect(prunes[0].key).toBe('prune');

    const dbRuns = refreshes((e) => e.cardId === undefined);
    for (const m of dbRuns) {
      expect(m.event).toMatchObject({ trigger: 'scheduled' });
      expect(m.key).toBe(String((m.event as { databaseId: number }).databaseId));
      expect(new Date(fireTime(m)).getUTCSeconds() % 3).toBe(0);
    }
    for (const m of refreshes((e) => e.cardId === card10)) {
      expect(m.event).toMatchObject({ databaseId: db1, cardId: card10, trigger: 'scheduled' });
      expect(new Date(fireTime(m)).getUTCSeconds() % 2).toBe(0);
    }
    // database 3 is not persist-enabled: neither it nor its model with an own cron is scheduled
    expect(refreshes((e) => e.databaseId === db3)).toEqual([]);
    // consecutive fires of one database are one cron period apart: nothing skipped, nothing doubled
    const times = refreshes((e) => e.databaseId === db2).map(fireTime);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(3000);

    // the clean-up fire deletes old schedule claims (the scheduler's table) and leaves task_history alone: the
    // history service owns and trims that one (services/history task-history-trim.job)
    await eventually(async () => {
      const old = await ds.query<unknown[]>(`select 1 from schedule_claim where claimed_by = 'gone'`);
      return old.length === 0 ? true : null;
    }, 20_000);
    // the clean-up marks its own claim published right after its delete (a moment later: wait for it too)
    await eventually(async () => {
      const cleanups = await ds.query<unknown[]>(
        `select 1 from schedule_claim where schedule_key = 'claim-cleanup' and published_at is not null`,
      );
      return cleanups.length >= 1 ? true : null;
    }, 20_000);
    expect(await ds.query(`select count(*)::int as n from task_history`)).toEqual([{ n: 10 }]);
    const published = await claims.findByKey(`database:${db2}`);
    expect(published.length).toBeGreaterThanOrEqual(2);
    expect(published.every((c) => c.claimedBy === 'sched-int-1')).toBe(true);
    expectNoDuplicates();
  }, 60_000);

  it('reschedules at once on config.changed: database off/on, global cron, model cron removed; bad events dead-lettered', async () => {
    // a malformed change notification is dead-lettered and the scheduler keeps going
    await produceRaw(kafka, topicName(bed.prefix, Topics.ConfigChanged), [
      { key: 'x', value: '{"type":"Config' },
    ]);
    await recorder.waitFor((m) => m.event?.type === 'DeadLetter', 1, 20_000);

    await databases.setPersistEnabled(db2, false);
    await databases.setPersistEnabled(db3, true);
    await cards.update(card10, { refreshCron: null });
    await settings.set(SettingKey.RefreshCronSchedule, '0/5 * * * * ? *');
    const changedAt = Date.now();
    await changed('database', db2);
    await changed('database', db3);
    await changed('card', card10);
    await changed('setting', SettingKey.RefreshCronSchedule);
    await eventually(async () => scheduler.engine.definition(`database:${db3}`) !== undefined, 10_000, 20);
    const reloadMs = Date.now() - changedAt;
    expect(scheduler.engine.definition(`database:${db2}`)).toBeUndefined();
    expect(scheduler.engine.definition(`model:${card10}`)).toBeUndefined();
    expect(scheduler.engine.definition(`model:${card11}`)).toMatchObject({ databaseId: db3, cardId: card11 });
    expect(scheduler.engine.definition(`database:${db1}`)?.cron).toBe('0/5 * * * * ? *');
    console.log(`config change → rescheduled in ${reloadMs} ms`);

    await recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.databaseId === db3 && !m.event.cardId,
      2,
      20_000,
    );
    await recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && m.event.cardId === card11,
      1,
      20_000,
    );
    const after = (m: ReceivedMessage) => fireTime(m) > changedAt + reloadMs;
    expect(refreshes((e, m) => e.databaseId === db2 && after(m))).toEqual([]);
    expect(refreshes((e, m) => e.cardId === card10 && after(m))).toEqual([]);
    const newCron = refreshes((e, m) => e.databaseId !== db2 && e.cardId === undefined && after(m));
    expect(newCron.length).toBeGreaterThan(0);
    for (const m of newCron) expect(new Date(fireTime(m)).getUTCSeconds() % 5).toBe(0);
    expectNoDuplicates();
  }, 60_000);

  it('global disable: prune at once, again after the grace period; refreshes stop, hourly prune continues', async () => {
    await settings.set(SettingKey.PersistedModelsEnabled, 'false');
    const disabledAt = Date.now();
    await changed('setting', SettingKey.PersistedModelsEnabled);
    const disables = await recorder.waitFor(
      (m) => m.event?.type === 'PruneRequested' && m.event.trigger === 'disable',
      2,
      20_000,
    );
    const [first, second] = disables.map(fireTime);
    expect(Math.abs(first - disabledAt)).toBeLessThan(2000); // the setting row's write time
    expect(second - first).toBe(2000 + 200); // PRUNE_GRACE_MS + margin
    await recorder.waitFor(
      (m) => m.event?.type === 'PruneRequested' && m.event.trigger === 'scheduled' && fireTime(m) > second,
      1,
      20_000,
    );
    expect(refreshes((_e, m) => fireTime(m) > disabledAt + 1000)).toEqual([]);
    // a reload (the periodic resync) does not publish the disable prunes again
    await scheduler.requestReload('test');
    await sleep(500);
    expect(recorder.events('PruneRequested').filter((e) => e.trigger === 'disable')).toHaveLength(2);
    expectNoDuplicates();
  }, 60_000);

  it('missed fires: nothing by default; with SCHEDULER_FIRE_MISSED_ON_START the latest one, once', async () => {
    await stopScheduler();
    await settings.set(SettingKey.PersistedModelsEnabled, 'true');
    await settings.set(SettingKey.RefreshCronSchedule, '0 0 0/1 * * ? *');
    const lastHour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const missed = () => refreshes((e, m) => e.cardId === undefined && fireTime(m) === lastHour);

    let since = Date.now();
    await startScheduler();
    await recorder.waitFor(
      (m) => m.event?.type === 'PruneRequested' && Number(m.raw.timestamp) > since,
      1,
      20_000,
    );
    expect(missed()).toEqual([]);
    await stopScheduler();

    await startScheduler({ SCHEDULER_FIRE_MISSED_ON_START: 'true' });
    const fired = await recorder.waitFor(
      (m) => m.event?.type === 'RefreshRequested' && fireTime(m) === lastHour,
      2,
      20_000,
    );
    expect(fired.map((m) => (m.event as { databaseId: number }).databaseId).sort()).toEqual(
      [db1, db3].sort(),
    );
    await stopScheduler();

    // a second start-up finds the claims: the missed fire is not published again
    since = Date.now();
    await startScheduler({ SCHEDULER_FIRE_MISSED_ON_START: 'true' });
    await recorder.waitFor(
      (m) => m.event?.type === 'PruneRequested' && Number(m.raw.timestamp) > since,
      1,
      20_000,
    );
    expect(missed()).toHaveLength(2);
    expectNoDuplicates();
  }, 90_000);
});
