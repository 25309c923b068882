/*
 * Refresher, change detection (issue 13): BENCH_DATABASES (default 20) PostgreSQL source databases × BENCH_MODELS_PER_DB
 * (default 50) small models, each reading a table of its own. A scheduled cycle (publish one `trigger: scheduled`
 * RefreshRequested per database → all RefreshRunCompleted received) after 5 % of the source tables changed — the
 * other 95 % of the models are verified unchanged and not built — versus a full cycle of the same models (manual
 * runs: every model rebuilt, as before change detection) in the same run, alternating, order swapped every round.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-change-detection.ts
 * (BENCH_DATABASES, BENCH_MODELS_PER_DB, BENCH_ROUNDS ≥ 5). Writes bench/results/refresher-change-detection.md.
 */
import { randomBytes } from 'node:crypto';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import {
  alternate,
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
import { addCard, addDatabase, fmt, Harness, pgAdmin, startHarness } from './refresher-kit';

const DATABASES = Number(process.env.BENCH_DATABASES ?? 20);
const PER_DB = Number(process.env.BENCH_MODELS_PER_DB ?? 50);
const ROUNDS = benchRounds();
const CHANGED_SHARE = 0.05;
const TARGET = 0.15;
/** PostgreSQL reports a backend's table counters up to a second after a commit (REFRESH_CHANGE_SETTLE_MS). */
const SETTLE_MS = 1_100;

interface CycleResult {
  ms: number;
  success: number;
  unchanged: number;
  error: number;
  /** where the cycle's time went (ms from the publish): runs' starts and durations, as the refresher reports them */
  breakdown: string;
}

function breakdown(published: number, runs: { startedAt: string; endedAt: string }[]): string {
  const starts = runs.map((r) => Date.parse(r.startedAt) - published).sort((x, y) => x - y);
  const durations = runs.map((r) => Date.parse(r.endedAt) - Date.parse(r.startedAt)).sort((x, y) => x - y);
  const ends = runs.map((r) => Date.parse(r.endedAt) - published);
  const med = (xs: number[]) => xs[Math.floor(xs.length / 2)] ?? 0;
  return `runs start ${starts[0] ?? 0}–${starts.at(-1) ?? 0} ms, last ends ${Math.max(0, ...ends)} ms; run median ${med(durations)} ms, longest ${durations.at(-1) ?? 0} ms`;
}

async function cycle(h: Harness, dbIds: number[], trigger: 'scheduled' | 'manual'): Promise<CycleResult> {
  const events = dbIds.map((databaseId) =>
    createEvent('RefreshRequested', { databaseId, trigger, requestedBy: 'bench' }),
  );
  const producer = h.kafka.producer();
  await producer.connect();
  try {
    const t = performance.now();
    const published = Date.now();
    await producer.send({
      topic: topicName(h.prefix, Topics.RefreshRequested),
      acks: -1,
      messages: events.map((e) => ({ key: String(e.databaseId), value: JSON.stringify(e) })),
    });
    const wanted = new Set(events.map((e) => e.eventId));
    const done = await h.waitFor(
      (e) => e.type === 'RefreshRunCompleted' && wanted.has(e.runId),
      events.length,
    );
    const ms = performance.now() - t;
    const out: CycleResult = { ms, success: 0, unchanged: 0, error: 0, breakdown: '' };
    const runs: { startedAt: string; endedAt: string }[] = [];
    for (const e of done) {
      if (e.type !== 'RefreshRunCompleted') continue;
      out.success += e.success;
      out.unchanged += e.unchanged ?? 0;
      out.error += e.error;
      runs.push(e);
    }
    out.breakdown = breakdown(published, runs);
    return out;
  } finally {
    await producer.disconnect();
  }
}

export async function main() {
  const startedAt = new Date();
  const commit = commitId();
  const load = new LoadMonitor().start();
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: DATABASES }, (_, i) => `mp_bench_chg_${tag}_${i + 1}`);
  const total = DATABASES * PER_DB;
  const changedPerCycle = Math.max(1, Math.round(total * CHANGED_SHARE));
  console.log(
    `[change] ${DATABASES} databases × ${PER_DB} models (one table each); ${changedPerCycle} tables change`,
  );
  for (const n of names) {
    await pgAdmin(`create database "${n}"`);
    const tables = Array.from(
      { length: PER_DB },
      (_, k) =>
        `create table s_${k} as select g as id, g % 7 as v, md5(g::text) as s from generate_series(1, 20) g;`,
    );
    await pgAdmin(tables.join('\n'), n);
  }
  const h = await startHarness('benchchg');
  let nextId = 1_000;
  /** 5 % of the source tables, picked at random, get a new row; then the settle time passes. */
  const change = async () => {
    const picked = new Set<number>();
    while (picked.size < changedPerCycle) picked.add(Math.floor(Math.random() * total));
    const byDb = new Map<number, number[]>();
    for (const p of picked)
      byDb.set(Math.floor(p / PER_DB), [...(byDb.get(Math.floor(p / PER_DB)) ?? []), p % PER_DB]);
    for (const [db, ks] of byDb)
      await pgAdmin(ks.map((k) => `insert into s_${k} values (${nextId++}, 1, 'x');`).join('\n'), names[db]);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  };
  const notes: string[] = [];
  const breakdowns = { changed: [] as string[], full: [] as string[] };
  try {
    const dbIds: number[] = [];
    for (const n of names) {
      const id = await addDatabase(h.appClient, { name: n, engine: 'postgres', dbName: n });
      dbIds.push(id);
      for (let k = 0; k < PER_DB; k++)
        await addCard(h.appClient, id, `model ${k}`, `select id, v, s from s_${k}`);
    }
    // first builds: rows, schemas, tables and the signatures of the inputs
    const first = await cycle(h, dbIds, 'manual');
    if (first.success !== total) throw new Error(`first cycle refreshed ${first.success} models`);
    const r = await alternate(
      {
        name: 'changed',
        run: async () => {
          await change();
          const c = await cycle(h, dbIds, 'scheduled');
          if (c.success !== total || c.error > 0) throw new Error(`scheduled cycle: ${JSON.stringify(c)}`);
          notes.push(`${total - c.unchanged} rebuilt / ${c.unchanged} unchanged`);
          breakdowns.changed.push(c.breakdown);
          return c.ms;
        },
      },
      {
        name: 'full',
        run: async () => {
          const c = await cycle(h, dbIds, 'manual');
          if (c.success !== total || c.unchanged !== 0) throw new Error(`full cycle: ${JSON.stringify(c)}`);
          breakdowns.full.push(c.breakdown);
          return c.ms;
        },
      },
      ROUNDS,
      (i, a, b) =>
        console.log(
          `[change] round ${i}: 5 % changed ${fmt(a)}s vs full ${fmt(b)}s (${notes.at(-1)}; changed: ${breakdowns.changed.at(-1)}; full: ${breakdowns.full.at(-1)})`,
        ),
    );
    const mark = load.stop();
    const a = spread(r.a);
    const b = spread(r.b);
    const ratio = a.median / b.median;
    const sized =
      DATABASES !== 20 || PER_DB !== 50 ? `BENCH_DATABASES=${DATABASES} BENCH_MODELS_PER_DB=${PER_DB} ` : '';
    writeResult(
      'refresher-change-detection',
      `${resultHeader({
        title: `Change detection: a scheduled cycle over ${total} models with 5 % of the source tables changed (bench/refresher-change-detection.ts)`,
        command: `${sized}node scripts/run-ts.js bench/refresher-change-detection.ts`,
        commit,
        load: mark,
        startedAt,
      })}

PostgreSQL 15 on 127.0.0.1 (${DATABASES} source databases, ${PER_DB} models each, every model reading a 20-row table
of its own), Kafka (KRaft, 1 node, 12 partitions); one compiled refresher process with its defaults. Changed = before
the measurement, ${changedPerCycle} random source tables (5 %) get a row and ${SETTLE_MS} ms pass (the source's change
markers may lag a commit by up to a second); then ${DATABASES} \`trigger: scheduled\` RefreshRequested are published
→ all RefreshRunCompleted received: every model's input signature is read (EXPLAIN + table counters), the unchanged
ones are marked in one guarded UPDATE per run and reported \`outcome: unchanged\`, the changed ones are rebuilt.
Full = the same ${DATABASES} runs as manual requests (every model rebuilt unconditionally; each build also reads and
stores its signature). One warm-up of each, then ${ROUNDS} rounds alternating (order swapped every round); ratio =
median changed / median full. Target (issue 13): ≤ ${TARGET}. Rebuilt / unchanged per changed cycle: ${notes.join(', ')}.

Where a cycle's time goes (from the publish; the runs' own start and end times; warm-up included), changed cycles:
${breakdowns.changed.map((x) => `- ${x}`).join('\n')}

full cycles:
${breakdowns.full.map((x) => `- ${x}`).join('\n')}

${mdTable(
  [
    'rounds: 5 % changed s',
    'rounds: full s',
    'changed median (min–max) s',
    'full median (min–max) s',
    'ratio',
    `target ≤ ${TARGET}`,
  ],
  [
    [
      r.a.map(fmt).join(' / '),
      r.b.map(fmt).join(' / '),
      fmtSpread(a, 2, 1000),
      fmtSpread(b, 2, 1000),
      `**${ratio.toFixed(3)}**`,
      sized ? `${verdict(ratio <= TARGET, mark)}, smoke size` : verdict(ratio <= TARGET, mark),
    ],
  ],
)}`,
    );
    console.log('[change] written to bench/results/refresher-change-detection.md');
  } finally {
    await h.close().catch((e: unknown) => console.error(e));
    for (const n of names)
      await pgAdmin(`drop database if exists "${n}" with (force)`).catch(() => undefined);
  }
}
