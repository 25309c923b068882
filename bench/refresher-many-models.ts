/*
 * Refresher, many models: 1,000 small models over 20 PostgreSQL source databases. Full cycle through the
 * service (publish 20 database-run RefreshRequested → 20 RefreshRunCompleted received; compiled refresher
 * process, real Kafka) versus the same statements run sequentially by ONE psql session (\c between databases,
 * per model: BEGIN; DROP tmp; CREATE TABLE tmp AS …; rename swap; drop; COMMIT) in the same run.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-many-models.ts
 * (BENCH_DATABASES, BENCH_MODELS_PER_DB, BENCH_ROUNDS ≥ 5, REFRESHER_CONCURRENCY to vary).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import {
  addCard,
  addDatabase,
  cpuSeconds,
  fmt,
  Harness,
  pgAdmin,
  psqlFile,
  startHarness,
} from './refresher-kit';

const DATABASES = Number(process.env.BENCH_DATABASES ?? 20);
const PER_DB = Number(process.env.BENCH_MODELS_PER_DB ?? 50);
const ROUNDS = benchRounds();
const CONCURRENCY = process.env.REFRESHER_CONCURRENCY ?? '4';
const PER_CONSUMER = process.env.REFRESHER_PARTITIONS_PER_CONSUMER ?? '3';

async function cycle(h: Harness, dbIds: number[]): Promise<{ ms: number; success: number; error: number }> {
  const t = performance.now();
  const cpu0 = cpuSeconds(h.refresher.pid!);
  // one produce request for the cycle's databases, as the scheduler publishes a fire of the global cron
  const runIds = await h.requestAll(dbIds);
  const wanted = new Set(runIds);
  const done = await h.waitFor((e) => e.type === 'RefreshRunCompleted' && wanted.has(e.runId), runIds.length);
  const ms = performance.now() - t;
  const cpu = cpuSeconds(h.refresher.pid!) - cpu0;
  const runs = new Set(runIds);
  const models = h.recorder
    .events('RefreshSucceeded')
    .filter((e) => runs.has(e.runId))
    .map((e) => e.durationMs);
  const runMs = done.map((e) => (e.type === 'RefreshRunCompleted' ? e.durationMs : 0));
  console.log(
    `[many]   per model (claim → outcome row written): mean ${(models.reduce((a, b) => a + b, 0) / Math.max(1, models.length)).toFixed(1)} ms over ${models.length}; ` +
      `refresher CPU ${cpu.toFixed(2)} s; runs: mean ${(runMs.reduce((a, b) => a + b, 0) / runMs.length / 1000).toFixed(2)} s, max ${(Math.max(...runMs) / 1000).toFixed(2)} s`,
  );
  let success = 0;
  let error = 0;
  for (const e of done) {
    if (e.type !== 'RefreshRunCompleted') continue;
    success += e.success;
    error += e.error;
  }
  return { ms, success, error };
}

export async function main() {
  const startedAt = new Date();
  const commit = commitId();
  const load = new LoadMonitor().start();
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: DATABASES }, (_, i) => `mp_bench_many_${tag}_${i + 1}`);
  console.log(`[many] ${DATABASES} databases × ${PER_DB} models`);
  for (const n of names) {
    await pgAdmin(`create database "${n}"`);
    await pgAdmin(
      `create table t as select g as id, g % 7 as v, md5(g::text) as s from generate_series(1, 100) g`,
      n,
    );
  }
  const h = await startHarness('benchmany', {
    REFRESHER_CONCURRENCY: CONCURRENCY,
    REFRESHER_PARTITIONS_PER_CONSUMER: PER_CONSUMER,
  });
  const scriptFile = join(tmpdir(), `mp-bench-many-${tag}.sql`);
  try {
    const dbIds: number[] = [];
    const modelSql = (k: number) => `select id, v, s from t where id % ${PER_DB} = ${k}`;
    for (const n of names) {
      const id = await addDatabase(h.appClient, { name: n, engine: 'postgres', dbName: n });
      dbIds.push(id);
      for (let k = 0; k < PER_DB; k++) await addCard(h.appClient, id, `model ${k}`, modelSql(k));
    }
    // creates the persisted_info rows, schemas and tables (the warm-up rounds of alternate() come on top)
    const first = await cycle(h, dbIds);
    if (first.success !== DATABASES * PER_DB)
      throw new Error(`first cycle refreshed ${first.success} models`);

    const schemas = (
      await h.appClient.query<{ database_id: number; s: string }>(
        'select distinct database_id, schema_name as s from persisted_info order by database_id',
      )
    ).rows;
    const lines: string[] = [];
    names.forEach((n, i) => {
      const s = schemas.find((r) => r.database_id === dbIds[i])!.s;
      lines.push(`\\c ${n}`);
      for (let k = 0; k < PER_DB; k++) {
        lines.push(
          `BEGIN; DROP TABLE IF EXISTS "${s}".psql_tmp; CREATE TABLE "${s}".psql_tmp AS ${modelSql(k)}; ` +
            `ALTER TABLE IF EXISTS "${s}".psql_m_${k} RENAME TO psql_bak; ALTER TABLE "${s}".psql_tmp RENAME TO psql_m_${k}; ` +
            `DROP TABLE IF EXISTS "${s}".psql_bak; COMMIT;`,
        );
      }
    });
    writeFileSync(scriptFile, `${lines.join('\n')}\n`);
    const r = await alternate(
      {
        name: 'service',
        run: async () => {
          const c = await cycle(h, dbIds);
          if (c.success !== DATABASES * PER_DB) throw new Error(`cycle refreshed ${c.success} models`);
          return c.ms;
        },
      },
      { name: 'psql', run: () => psqlFile(names[0], scriptFile) },
      ROUNDS,
      (i, a, b) => console.log(`[many] round ${i}: service ${fmt(a)}s vs psql ${fmt(b)}s`),
    );
    const mark = load.stop();
    const s = spread(r.a);
    const d = spread(r.b);
    const ratio = s.median / d.median;
    const sized =
      DATABASES !== 20 || PER_DB !== 50 ? `BENCH_DATABASES=${DATABASES} BENCH_MODELS_PER_DB=${PER_DB} ` : '';
    writeResult(
      'refresher-many-models',
      `${resultHeader({
        title: `Many models: ${DATABASES * PER_DB} small models over ${DATABASES} databases (bench/refresher-many-models.ts)`,
        command: `${sized}node scripts/run-ts.js bench/refresher-many-models.ts`,
        commit,
        load: mark,
        startedAt,
      })}

PostgreSQL 15 on 127.0.0.1 (${DATABASES} source databases, ${PER_DB} models each over a 100-row table), Kafka (KRaft,
1 node, 12 partitions); one compiled refresher process with REFRESHER_CONCURRENCY=${CONCURRENCY} Kafka consumers ×
REFRESHER_PARTITIONS_PER_CONSUMER=${PER_CONSUMER} (at most their product of databases at once, those sharing a partition included).
Service = publish ${DATABASES} database-run RefreshRequested in one produce request, as a scheduled fire does (client producer kept connected) → all ${DATABASES}
RefreshRunCompleted received (per model: lease claim, CREATE TABLE AS + swap, outcome row update, RefreshSucceeded
acked by the broker). psql = the same per-model statements run sequentially by one \`psql -f\` session. One warm-up
cycle of each, then ${ROUNDS} rounds alternating service and psql (order swapped every round); ratio = median service
/ median psql. Target (issue 13, target 1, at 1,000 models over 20 databases): ≤ 1.0.

${mdTable(
  [
    'rounds: service s',
    'rounds: psql s',
    'service median (min–max) s',
    'psql median (min–max) s',
    'ratio',
    'target ≤ 1.0',
  ],
  [
    [
      r.a.map(fmt).join(' / '),
      r.b.map(fmt).join(' / '),
      fmtSpread(s, 2, 1000),
      fmtSpread(d, 2, 1000),
      `**${ratio.toFixed(3)}**`,
      sized ? `${verdict(ratio <= 1, mark)}, smoke size` : verdict(ratio <= 1, mark),
    ],
  ],
)}`,
    );
    console.log('[many] written to bench/results/refresher-many-models.md');
  } finally {
    rmSync(scriptFile, { force: true });
    await h.close().catch((e: unknown) => console.error(e));
    for (const n of names)
      await pgAdmin(`drop database if exists "${n}" with (force)`).catch(() => undefined);
  }
}
