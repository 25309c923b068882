/*
 * A burst of at least SCHEDULER_STAGE_MIN_FIRES fires of one instant is sent ahead inside a Kafka transaction and
 * committed at its fire time: a read_uncommitted reader sees the records before the fire time, a read_committed
 * reader (every consumer of ours) only from the fire time on, each fire once. A fire whose schedule changed after
 * staging aborts the staged transaction: it is never seen, the others are sent the plain way, once.
 */
import { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RefreshRequested, Topics } from '@model-persistence/contracts';
import { kafkaMicroservice } from '@model-persistence/messaging';
import { ReceivedMessage, TopicRecorder } from '@model-persistence/testing';
import { AppModule } from '../src/app.module';
import { loadSchedulerConfig, schedulerConsumerGroup } from '../src/config';
import { PublishFiresUseCase } from '../src/publish-fires.use-case';
import { SchedulerService } from '../src/scheduler.service';
import {
  createSchedulerTestBed,
  fireCounts,
  fireTime,
  SchedulerTestBed,
  schedulerEnv,
} from './scheduler.test-kit';

const DATABASES = 12;

describe('scheduler: big bursts are staged in a Kafka transaction and committed at the fire time', () => {
  let bed: SchedulerTestBed;
  let uncommitted: TopicRecorder;
  let app: INestMicroservice;
  const ids: number[] = [];

  beforeAll(async () => {
    // every database fires every 2 s: 12 fires of one instant, staged from 10 on
    bed = await createSchedulerTestBed('staged', [Topics.RefreshRequested], '0/2 * * * * ? *');
    for (let i = 0; i < DATABASES; i++) ids.push(await bed.addDatabase(`db${i}`, true));
    uncommitted = await new TopicRecorder(bed.kafka, bed.prefix, [Topics.RefreshRequested], {
      readUncommitted: true,
    }).start();
    const config = loadSchedulerConfig({
      ...schedulerEnv(bed, 'sched-staged', 4),
      SCHEDULER_STAGE_MIN_FIRES: '10',
    });
    app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
      ...kafkaMicroservice(config.kafka, { groupId: schedulerConsumerGroup(config) }),
      logger: ['error', 'warn'],
    });
    await app.listen();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await uncommitted?.stop();
    await bed?.close();
  }, 60_000);

  const cron = (m: ReceivedMessage) => !!m.headers['schedule-key']?.toString().startsWith('database:');

  it('read_committed readers get each fire once, from its fire time on; the records were there before', async () => {
    await bed.recorder.waitFor(cron, 3 * DATABASES, 30_000);
    const seen = bed.recorder.messages.filter(cron);
    const instants = [...new Set(seen.map(fireTime))].sort();
    const complete = instants.filter((t) => seen.filter((m) => fireTime(m) === t).length === DATABASES);
    expect(complete.length).toBeGreaterThanOrEqual(2);
    for (const m of seen) expect(m.receivedAt).toBeGreaterThanOrEqual(fireTime(m));
    // a staged instant: all its records on the broker before the fire time, stamped with the fire time itself (a
    // plain send stamps the moment it encodes); one suffices (the uncommitted reader may still be catching up at
    // the first instant after start-up, and a starved machine may prepare an instant too late to stage it)
    const staged = complete.filter(
      (t) =>
        uncommitted.messages.filter((m) => cron(m) && fireTime(m) === t && m.receivedAt < t).length ===
          DATABASES && seen.filter((m) => fireTime(m) === t).every((m) => Number(m.raw.timestamp) === t),
    );
    expect(staged.length).toBeGreaterThanOrEqual(1);
    const twice = [...fireCounts(seen)].filter(([, times]) => [...times.values()].some((n) => n > 1));
    expect(twice).toEqual([]);
  }, 60_000);

  it('a fire whose schedule changed after staging aborts the staged burst; the others are published once', async () => {
    const fires = app.get(PublishFiresUseCase);
    const engine = app.get(SchedulerService).engine;
    // an instant of its own, off the cron's grid, so the scheduler's own fires do not mix in
    const at = Date.now() + 3_000 + 500;
    const due = ids.map((id) => ({ def: engine.definition(`database:${id}`)!, fireTime: at }));
    const prepared = await fires.prepare(due);
    const staged = await fires.stage(prepared, at);
    expect(staged?.records).toBe(DATABASES);
    const gone = `database:${ids[0]}`;
    const outcomes = await fires.publishPrepared(prepared, (f) => f.def.key !== gone, staged);
    expect(outcomes.filter((o) => o.result === 'published')).toHaveLength(DATABASES - 1);

    const ofAt = (m: ReceivedMessage) => cron(m) && fireTime(m) === at;
    await bed.recorder.waitFor(ofAt, DATABASES - 1, 20_000);
    // the staged copies (all 12, the dropped one too) were on the broker, aborted
    await uncommitted.waitFor((m) => ofAt(m) && m.headers['schedule-key']?.toString() === gone, 1, 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const published = bed.recorder.messages.filter(ofAt);
    expect(published.map((m) => (m.event as RefreshRequested).databaseId).sort((a, b) => a - b)).toEqual(
      ids.slice(1).sort((a, b) => a - b),
    );
    const claims = await bed.claims.findByKey(gone);
    expect(claims.find((c) => c.fireTime.getTime() === at)).toBeUndefined();
  }, 60_000);
});
