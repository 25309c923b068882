/*
 * Refresher scale-out (issue 13, target 3): models that are I/O-bound at the source (each waits on the server,
 * `pg_sleep(0.05)`), 24 PostgreSQL databases, 12 partitions, every replica given the same fixed capacity (one
 * Kafka consumer working on one partition = one database at a time). Three consumer groups on their own topics
 * share one app database and the same source databases: 1, 3 and 6 compiled refresher processes. A cycle =
 * publish 24 database-run RefreshRequested → 24 RefreshRunCompleted received; throughput = models / s.
 * 1 vs 3 replicas and 1 vs 6 replicas alternate in rounds (bench-kit), order swapped every round.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-scale-out.ts
 * (BENCH_DATABASES default 24, BENCH_MODELS_PER_DB default 5, BENCH_ROUNDS ≥ 5).
 */
import { randomBytes } from 'node:crypto';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestAppDatabase,
  createTestTopics,
  ServiceProcess,
  testKafkaConfig,
  TestAppDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { partitionForKey } from '@model-persistence/messaging';
import { AssignerProtocol, Kafka, Partitioners, Producer } from 'kafkajs';
import { Client } from 'pg';
import {
  alternate,
  AlternateResult,
  benchRounds,
  commitId,
  fmtSpread,
  LoadMonitor,
  mdTable,
  resultHeader,
  spread,
  verdict,
  writeResult,
} from './bench-kit';
import { addCard, addDatabase, fmt, pgAdmin } from './refresher-kit';

const DATABASES = Number(process.env.BENCH_DATABASES ?? 24);
const PER_DB = Number(process.env.BENCH_MODELS_PER_DB ?? 5);
const PARTITIONS = 12;
const ROUNDS = benchRounds();

interface Group {
  replicas: number;
  prefix: string;
  kafka: Kafka;
  producer: Producer;
  recorder: TopicRecorder;
  processes: ServiceProcess[];
  /** per cycle: the runs' durations (ms) as the refreshers report them */
  runMs: number[][];
  /** databases each replica's consumer was assigned (by the partitions it owns), busiest first */
  share: number[];
}

/**
 * Starts `replicas` refresher processes in one group; `beforeLast` runs before the last one starts, so the group's
 * final rebalance (whose leader weighs the partitions by the persist-enabled databases on them) sees them.
 */
async function startGroup(
  app: TestAppDatabase,
  replicas: number,
  dbIds: number[],
  beforeLast: () => Promise<void> = () => Promise.resolve(),
): Promise<Group> {
  const prefix = uniqueTopicPrefix(`benchscale${replicas}`);
  const kafka = await createTestTopics(testKafkaConfig(prefix, { partitions: PARTITIONS }));
  const recorder = await new TopicRecorder(kafka, prefix, [Topics.RefreshRuns]).start();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const group = `refresher-${prefix}`;
  const start = () =>
    new ServiceProcess('refresher', {
      NODE_ENV: 'test',
      DATABASE_URL: app.url,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      REFRESHER_CONSUMER_GROUP: group,
      // the fixed capacity of a replica: one consumer, one partition (= one database) at a time
      REFRESHER_CONCURRENCY: '1',
      REFRESHER_PARTITIONS_PER_CONSUMER: '1',
      LOG_LEVEL: 'info', // the start-up line the harness waits for is an info line
      OTEL_SDK_DISABLED: 'true',
      METRICS_PORT: '0',
      DATABASE_POOL_SIZE: '3',
    }).start(/refresher started \(instance/, 120_000);
  const started = await Promise.allSettled(Array.from({ length: replicas - 1 }, start));
  await beforeLast();
  started.push(...(await Promise.allSettled([start()])));
  const processes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    await recorder.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw failed.reason;
  }
  // every replica in the group with partitions assigned before anything is measured
  const admin = kafka.admin();
  await admin.connect();
  const share: number[] = [];
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { groups } = await admin.describeGroups([group]);
      if (groups[0]?.state === 'Stable' && groups[0].members.length === replicas) {
        const topic = topicName(prefix, Topics.RefreshRequested);
        for (const m of groups[0].members) {
          const owned = new Set(
            AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic],
          );
          share.push(dbIds.filter((id) => owned.has(partitionForKey(String(id), PARTITIONS))).length);
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`group ${group} did not settle with ${replicas} members`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
  share.sort((a, b) => b - a);
  return { replicas, prefix, kafka, producer, recorder, processes, runMs: [], share };
}

async function cycle(g: Group, dbIds: number[]): Promise<number> {
  const t = performance.now();
  const ids = new Set<string>();
  await g.producer.send({
    topic: topicName(g.prefix, Topics.RefreshRequested),
    acks: -1,
    messages: dbIds.map((databaseId) => {
      const e = createEvent('RefreshRequested', { databaseId, trigger: 'manual', requestedBy: 'bench' });
      ids.add(e.eventId);
      return { key: String(databaseId), value: JSON.stringify(e) };
    }),
  });
  const done = await g.recorder.waitFor(
    (m) => m.event?.type === 'RefreshRunCompleted' && ids.has(m.event.runId),
    dbIds.length,
    600_000,
  );
  const ms = performance.now() - t;
  let success = 0;
  const runMs: number[] = [];
  for (const m of done) {
    if (m.event?.type !== 'RefreshRunCompleted') continue;
    success += m.event.success;
    runMs.push(m.event.durationMs);
  }
  if (success !== dbIds.length * PER_DB)
    throw new Error(`${g.replicas} replicas refreshed ${success} models`);
  g.runMs.push(runMs);
  return ms;
}

export async function main(): Promise<void> {
  const startedAt = new Date();
  const commit = commitId();
  const load = new LoadMonitor().start();
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: DATABASES }, (_, i) => `mp_bench_scale_${tag}_${i + 1}`);
  const app = await createTestAppDatabase('benchscale');
  const groups: Group[] = [];
  try {
    for (const n of names) await pgAdmin(`create database "${n}"`);
    const c = new Client({ connectionString: app.url });
    await c.connect();
    const dbIds: number[] = [];
    try {
      await c.query(
        `insert into setting (key, value) values ('persisted-models-enabled', 'true')
         on conflict (key) do update set value = excluded.value`,
      );
      for (const n of names) {
        const id = await addDatabase(c, { name: n, engine: 'postgres', dbName: n });
        dbIds.push(id);
        for (let k = 0; k < PER_DB; k++)
          await addCard(c, id, `io model ${k}`, `select ${k} as k, now() as at from pg_sleep(0.05)`);
      }
    } finally {
      await c.end();
    }
    // persistence is switched on only once the replicas run: each replica's start-up recovery would otherwise open
    // a connection to every source database (10 processes × 24 databases exceed the shared server's limit)
    const persist = (on: boolean) =>
      pgAdmin(`update "database" set persist_models_enabled = ${on}`, app.url.split('/').pop());
    await persist(false);
    const stopGroup = async (g: Group) => {
      await Promise.all(g.processes.map((p) => p.stop().catch(() => undefined)));
      await g.recorder.stop().catch(() => undefined);
      await g.producer.disconnect().catch(() => undefined);
      groups.splice(groups.indexOf(g), 1);
    };
    console.log(`[scale] ${DATABASES} databases × ${PER_DB} models; 1 vs 3 replicas, then 1 vs 6`);
    const one = await startGroup(app, 1, dbIds);
    groups.push(one);
    const three = await startGroup(app, 3, dbIds, () => persist(true));
    groups.push(three);
    // the first cycle creates rows, schemas and tables (alternate() warms each side up on top)
    await cycle(one, dbIds);
    const models = DATABASES * PER_DB;
    const side = (g: Group) => ({ name: `${g.replicas} replica(s)`, run: () => cycle(g, dbIds) });
    const log = (label: string) => (i: number, a: number, b: number) =>
      console.log(`[scale] ${label} round ${i}: 1 replica ${fmt(a)} s vs ${fmt(b)} s`);
    const r3 = await alternate(side(one), side(three), ROUNDS, log('1 vs 3'));
    await stopGroup(three);
    await persist(false);
    const six = await startGroup(app, 6, dbIds, () => persist(true));
    groups.push(six);
    const r6 = await alternate(side(one), side(six), ROUNDS, log('1 vs 6'));
    const mark = load.stop();

    const tput = (ms: number) => models / (ms / 1000);
    const row = (label: string, r: AlternateResult, n: number, target: number | null) => {
      const base = spread(r.a.map(tput));
      const many = spread(r.b.map(tput));
      const ratio = many.median / base.median;
      return [
        label,
        fmtSpread(base, 1),
        fmtSpread(many, 1),
        `**${ratio.toFixed(2)}**`,
        (ratio / n).toFixed(2),
        target === null ? '(measured)' : verdict(ratio >= target, mark),
      ];
    };
    // how the 24 keys land on 12 partitions decides the busiest replica's share
    const byPartition = new Map<number, number>();
    for (const id of dbIds) {
      const p = partitionForKey(String(id), PARTITIONS);
      byPartition.set(p, (byPartition.get(p) ?? 0) + 1);
    }
    const counts = [...byPartition.values()].sort((a, b) => b - a);
    const meanRun = (g: Group) =>
      spread(g.runMs.slice(1).flat()).median; /* the first cycle of a group is its warm-up */
    const sized =
      DATABASES !== 24 || PER_DB !== 5 ? `BENCH_DATABASES=${DATABASES} BENCH_MODELS_PER_DB=${PER_DB} ` : '';
    const md = `${resultHeader({
      title: 'Refresher scale-out: I/O-bound models, 1 → 3 → 6 replicas (bench/refresher-scale-out.ts)',
      command: `${sized}node scripts/run-ts.js bench/refresher-scale-out.ts`,
      commit,
      load: mark,
      startedAt,
    })}

${DATABASES} PostgreSQL source databases × ${PER_DB} models, each model \`select k, now() from pg_sleep(0.05)\`
(the server waits 50 ms: I/O-bound at the source), Kafka topics with ${PARTITIONS} partitions. Three consumer groups
on their own topics share one app database (at most two alive at once; app pool 3 per replica): 1, 3 and 6 compiled
refresher processes, each with the same fixed
capacity (REFRESHER_CONCURRENCY=1, REFRESHER_PARTITIONS_PER_CONSUMER=1: one database at a time). A cycle = publish
${DATABASES} database-run RefreshRequested (one producer, kept connected) → all RefreshRunCompleted received;
throughput = ${models} models ÷ cycle time. One warm-up cycle of each side, then ${ROUNDS} rounds alternating 1 replica
with 3 (then with 6) replicas, order swapped every round. Efficiency = ratio ÷ replicas.

${mdTable(
  ['comparison', '1 replica models/s', 'N replicas models/s', 'ratio', 'efficiency', 'target'],
  [row('1 → 3 replicas', r3, 3, 2.7), row('1 → 6 replicas', r6, 6, null)],
)}

Keys (database ids) per partition, busiest first: ${counts.join(', ')} (${PARTITIONS - byPartition.size} of ${PARTITIONS}
partitions get none; murmur2 as in the Java client). The refreshers' partition assigner
(libs/messaging/src/weighted-assigner.ts) hands partitions to consumers by the work on them (a database's run plus
its models), so the replicas' shares are, in databases, 3 replicas: ${three.share.join(' / ')}; 6 replicas:
${six.share.join(' / ')} (an even spread would be ${(DATABASES / 3).toFixed(1)} / ${(DATABASES / 6).toFixed(1)}; a partition is
never split, so its busiest one bounds the share). Median database run: 1 replica ${fmt(meanRun(one))} s,
3 replicas ${fmt(meanRun(three))} s, 6 replicas ${fmt(meanRun(six))} s. With one database at a time per replica, a
cycle cannot be shorter than the busiest replica's share; the runs also slow down as replicas share the 2 cores
(Node, the app database's commits), which the 50 ms source waits do not.`;
    writeResult('refresher-scale-out', md);
    console.log(md);
  } finally {
    for (const g of [...groups]) {
      await Promise.all(g.processes.map((p) => p.stop().catch(() => undefined)));
      await g.recorder.stop().catch(() => undefined);
      await g.producer.disconnect().catch(() => undefined);
    }
    await app.drop().catch(() => undefined);
    for (const n of names)
      await pgAdmin(`drop database if exists "${n}" with (force)`).catch(() => undefined);
  }
}
