/*
 * Latency of one request (issue 13, target 4): a trivial model (`select 1 as x`), an external kafkajs client
 * (one producer that stays connected, one consumer) publishes RefreshRequested for that one model and waits for
 * its RefreshSucceeded; sequential requests, p50 / p99. Baseline in the same run: a plain Kafka echo — the client
 * produces to a request topic, an echo consumer (kafkajs defaults, as the refresher's) produces the value to a
 * reply topic, the client receives it: the two broker hops the service cannot avoid. Blocks of requests of each
 * side alternate (bench-kit), order swapped every round.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/request-latency.ts
 * (BENCH_REQUESTS = requests per side in all, default 250; BENCH_ROUNDS ≥ 5). With BENCH_AB_REFRESHER=<path of
 * another build's services/refresher/dist/main.js> (and BENCH_AB_LABEL), this build is also measured against that
 * one, alternating, on the same app database and model (each on its own topics).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createEvent, decodeEvent, topicName, Topics } from '@model-persistence/contracts';
import { createTestTopics, testKafkaConfig, uniqueTopicPrefix } from '@model-persistence/testing';
import { Consumer, Partitioners, Producer } from 'kafkajs';
import {
  alternate,
  benchRounds,
  commitId,
  fmtSpread,
  LoadMonitor,
  mdTable,
  percentile,
  resultHeader,
  spread,
  verdict,
  writeResult,
} from './bench-kit';
import { addCard, addDatabase, pgAdmin, startHarness } from './refresher-kit';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 250);
const AB_REFRESHER = process.env.BENCH_AB_REFRESHER;
const AB_LABEL = process.env.BENCH_AB_LABEL ?? AB_REFRESHER ?? '';

/** Another build of the refresher as its own process on its own topics (the A/B side). */
async function startOther(appUrl: string, mainJs: string): Promise<{ prefix: string; child: ChildProcess }> {
  const prefix = uniqueTopicPrefix('benchlatab');
  await createTestTopics(testKafkaConfig(prefix, { partitions: 12 }));
  const child = spawn(process.execPath, [mainJs], {
    env: {
      ...process.env,
      LOG_JSON: 'false',
      NODE_ENV: 'test',
      DATABASE_URL: appUrl,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: '12',
      REFRESHER_CONSUMER_GROUP: `refresher-${prefix}`,
      REFRESHER_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      METRICS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    let ready = false;
    const t = setTimeout(() => reject(new Error(`${mainJs} did not start within 120 s:\n${seen}`)), 120_000);
    const onData = (d: Buffer) => {
      if (ready) return; // keep draining the pipes
      seen = (seen + d.toString()).slice(-20_000);
      if (/refresher started \(instance/.test(seen)) {
        ready = true;
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${mainJs} exited with ${code}:\n${seen}`)));
  });
  return { prefix, child };
}

interface Sample {
  total: number;
  /** client send → refresher started the run (RefreshRunStarted.startedAt); includes the previous run's tail */
  toStart?: number;
  /** run started → model started (RunStarted publish, checks, recovery) */
  toModel?: number;
  /** model started → source build done (claim + CREATE TABLE AS + swap) */
  model?: number;
  /** build done → RefreshSucceeded received by the client (outcome row, publish, delivery) */
  toClient?: number;
}

export async function main(): Promise<void> {
  const startedAt = new Date();
  const commit = commitId();
  const load = new LoadMonitor().start();
  const rounds = benchRounds();
  const perRound = Math.ceil(REQUESTS / rounds);
  const tag = randomBytes(3).toString('hex');
  const srcDb = `mp_bench_lat_${tag}`;
  await pgAdmin(`create database "${srcDb}"`);
  const h = await startHarness('benchlat', { REFRESHER_CONCURRENCY: '1' });
  const echoTopic = `${h.prefix}bench.echo.request`;
  const replyTopic = `${h.prefix}bench.echo.reply`;
  let producer: Producer | undefined;
  let client: Consumer | undefined;
  let echo: Consumer | undefined;
  let other: { prefix: string; child: ChildProcess } | null = null;
  try {
    const dbId = await addDatabase(h.appClient, { name: 'lat', engine: 'postgres', dbName: srcDb });
    const cardId = await addCard(h.appClient, dbId, 'Trivial model', 'select 1 as x');

    if (AB_REFRESHER) other = await startOther(h.app.url, AB_REFRESHER);
    const admin = h.kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [echoTopic, replyTopic].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    await admin.disconnect();

    producer = h.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const p = producer;

    // what the client waits for, by id (request eventId / echo nonce)
    const waiting = new Map<string, (at: number) => void>();
    const runStarted = new Map<string, number>();
    const modelTimes = new Map<string, { started: number; ended: number }>();

    client = h.kafka.consumer({ groupId: `bench-lat-client-${tag}` });
    await client.connect();
    await client.subscribe({
      topics: [
        topicName(h.prefix, Topics.RefreshSucceeded),
        topicName(h.prefix, Topics.RefreshFailed),
        topicName(h.prefix, Topics.RefreshRuns),
        replyTopic,
        ...(other
          ? [Topics.RefreshSucceeded, Topics.RefreshFailed, Topics.RefreshRuns].map((t) =>
              topicName(other!.prefix, t),
            )
          : []),
      ],
      fromBeginning: false,
    });
    const joined = (c: Consumer) =>
      new Promise<void>((resolve) => c.on(c.events.GROUP_JOIN, () => resolve()));
    const clientJoined = joined(client);
    await client.run({
      eachMessage: ({ topic, message }) => {
        const at = performance.now();
        if (topic === replyTopic) {
          waiting.get(message.value?.toString() ?? '')?.(at);
          return Promise.resolve();
        }
        const d = decodeEvent(message.value);
        if (!d.ok) return Promise.resolve();
        const e = d.event;
        if (e.type === 'RefreshRunStarted') runStarted.set(e.runId, Date.parse(e.startedAt));
        else if (e.type === 'RefreshSucceeded') {
          modelTimes.set(e.runId, { started: Date.parse(e.startedAt), ended: Date.parse(e.endedAt) });
          waiting.get(e.runId)?.(at);
        } else if (e.type === 'RefreshFailed') console.error(`[latency] refresh failed: ${e.message}`);
        return Promise.resolve();
      },
    });

    echo = h.kafka.consumer({ groupId: `bench-lat-echo-${tag}` });
    await echo.connect();
    await echo.subscribe({ topics: [echoTopic], fromBeginning: false });
    const echoJoined = joined(echo);
    await echo.run({
      eachMessage: async ({ message }) => {
        await p.send({ topic: replyTopic, acks: -1, messages: [{ key: message.key, value: message.value }] });
      },
    });
    await Promise.all([clientJoined, echoJoined]);

    const arrival = (id: string) =>
      new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer to ${id} within 30 s`)), 30_000);
        waiting.set(id, (at) => (clearTimeout(t), waiting.delete(id), resolve(at)));
      });

    const oneRequest = async (prefix: string): Promise<Sample> => {
      const e = createEvent('RefreshRequested', {
        databaseId: dbId,
        cardId,
        trigger: 'manual',
        requestedBy: 'bench',
      });
      const got = arrival(e.eventId);
      const wall = Date.now();
      const t = performance.now();
      await p.send({
        topic: topicName(prefix, Topics.RefreshRequested),
        acks: -1,
        messages: [{ key: String(dbId), value: JSON.stringify(e) }],
      });
      const total = (await got) - t;
      const started = runStarted.get(e.eventId);
      const m = modelTimes.get(e.eventId);
      const end = wall + total;
      return {
        total,
        ...(started !== undefined && m
          ? {
              toStart: started - wall,
              toModel: m.started - started,
              model: m.ended - m.started,
              toClient: end - m.ended,
            }
          : {}),
      };
    };
    const oneEcho = async (): Promise<Sample> => {
      const nonce = randomBytes(8).toString('hex');
      const got = arrival(nonce);
      const t = performance.now();
      await p.send({ topic: echoTopic, acks: -1, messages: [{ key: '1', value: nonce }] });
      return { total: (await got) - t };
    };
    /** A side of alternate(): blocks of perRound sequential requests; the first block (the warm-up) is not kept. */
    const side = (name: string, one: () => Promise<Sample>) => {
      const kept: Sample[] = [];
      let warm = true;
      return {
        kept,
        side: {
          name,
          run: async () => {
            const xs: Sample[] = [];
            for (let i = 0; i < perRound; i++) xs.push(await one());
            if (!warm) kept.push(...xs);
            warm = false;
            return percentile(
              xs.map((s) => s.total),
              50,
            );
          },
        },
      };
    };
    const svc = side('service', () => oneRequest(h.prefix));
    const echoSide = side('echo', oneEcho);
    const r = await alternate(svc.side, echoSide.side, rounds, (i, a, b) =>
      console.log(`[latency] round ${i}: service p50 ${a.toFixed(1)} ms, echo p50 ${b.toFixed(1)} ms`),
    );
    const service = svc.kept;
    const baseline = echoSide.kept.map((s) => s.total);
    // optional A/B against another build of the refresher (same app database and model, own topics)
    let ab: { label: string; svc: Sample[]; other: Sample[]; r: { a: number[]; b: number[] } } | null = null;
    if (other) {
      const otherPrefix = other.prefix;
      const svc2 = side('service', () => oneRequest(h.prefix));
      const base = side('other build', () => oneRequest(otherPrefix));
      const r2 = await alternate(svc2.side, base.side, rounds, (i, a, b) =>
        console.log(
          `[latency] A/B round ${i}: service p50 ${a.toFixed(1)} ms, other build p50 ${b.toFixed(1)} ms`,
        ),
      );
      ab = { label: AB_LABEL, svc: svc2.kept, other: base.kept, r: r2 };
    }

    const mark = load.stop();
    const totals = service.map((s) => s.total);
    const p50 = percentile(totals, 50);
    const p99 = percentile(totals, 99);
    const parts = (k: keyof Sample) =>
      percentile(
        service.map((s) => s[k]).filter((x): x is number => x !== undefined),
        50,
      );
    const f = (x: number) => x.toFixed(1);
    const partsOf = (xs: Sample[], k: keyof Sample) =>
      percentile(
        xs.map((s) => s[k]).filter((x): x is number => x !== undefined),
        50,
      );
    const abRow = (label: string, xs: Sample[], rounds: number[]) => {
      const t = xs.map((s) => s.total);
      return [
        label,
        t.length,
        f(percentile(t, 50)),
        f(percentile(t, 99)),
        fmtSpread(spread(rounds), 1),
        f(partsOf(xs, 'toStart')),
        f(partsOf(xs, 'toModel')),
        f(partsOf(xs, 'model')),
        f(partsOf(xs, 'toClient')),
      ];
    };
    const abSection = () =>
      ab
        ? `

A/B in the same run, alternating (${rounds} rounds of ${perRound} requests after one warm-up block each): this build
vs ${ab.label}, same app database and model, each refresher on its own topics. Parts as above (median ms).

${mdTable(
  [
    'build',
    'requests',
    'p50 ms',
    'p99 ms',
    'round medians ms',
    'send → start',
    'start → model',
    'model',
    'done → client',
  ],
  [abRow('this build', ab.svc, ab.r.a), abRow(ab.label, ab.other, ab.r.b)],
)}`
        : '';
    const md = `${resultHeader({
      title: 'Latency of one request: RefreshRequested → RefreshSucceeded (bench/request-latency.ts)',
      command: 'node scripts/run-ts.js bench/request-latency.ts',
      commit,
      load: mark,
      startedAt,
    })}

One PostgreSQL source database with one trivial model (\`select 1 as x\`); one compiled refresher process
(REFRESHER_CONCURRENCY=1); an external kafkajs client (producer kept connected, acks = all; its own consumer)
publishes an individual-model RefreshRequested and waits for that model's RefreshSucceeded, one request at a time.
Baseline = a plain Kafka echo in the same run: client → request topic → an echo consumer (kafkajs defaults) → reply
topic → client (the two broker hops every request needs). ${rounds} rounds of ${perRound} requests per side after one
warm-up block each, order swapped every round; p50 / p99 over all ${totals.length} measured requests of a side.

${mdTable(
  ['side', 'requests', 'p50 ms', 'p99 ms', 'max ms', 'round medians ms: median (min–max)'],
  [
    ['service', totals.length, f(p50), f(p99), f(Math.max(...totals)), fmtSpread(spread(r.a), 1)],
    [
      'Kafka echo',
      baseline.length,
      f(percentile(baseline, 50)),
      f(percentile(baseline, 99)),
      f(Math.max(...baseline)),
      fmtSpread(spread(r.b), 1),
    ],
  ],
)}

Where a request's time goes (median of each part over the measured requests; wall clocks of one machine, ms
resolution, so parts need not add up to the p50):

${mdTable(
  ['part', 'median ms'],
  [
    [
      'client send → refresher starts the run (publish ack, end of the previous run, offset commit, fetch, inbox check)',
      f(parts('toStart')),
    ],
    ['run start → model start (app-database checks; RunStarted in flight meanwhile)', f(parts('toModel'))],
    ['model start → build done (lease claim, CREATE TABLE AS + swap)', f(parts('model'))],
    [
      'build done → RefreshSucceeded at the client (outcome row, RunStarted ack, publish, fetch)',
      f(parts('toClient')),
    ],
  ],
)}

Targets: p50 ≤ 20 ms: **${verdict(p50 <= 20, mark)}** (${f(p50)} ms); p99 ≤ 100 ms: **${verdict(p99 <= 100, mark)}**
(${f(p99)} ms). Service p50 / echo p50 = ${(p50 / percentile(baseline, 50)).toFixed(2)}.${abSection()}`;
    writeResult('request-latency', md);
    console.log(md);
  } finally {
    if (other && other.child.exitCode === null) {
      const exited = new Promise((r) => other!.child.once('exit', r));
      other.child.kill('SIGTERM');
      await exited;
    }
    await echo?.disconnect().catch(() => undefined);
    await client?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await h.close().catch((e: unknown) => console.error(e));
    await pgAdmin(`drop database if exists "${srcDb}" with (force)`).catch(() => undefined);
  }
}
