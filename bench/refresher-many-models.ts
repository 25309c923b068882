/*
 * Refresher, many models: 1,000 small models over 20 PostgreSQL source databases. Full cycle through the
 * service (publish 20 database-run RefreshRequested → 20 RefreshRunCompleted received; compiled refresher
 * process, real Kafka) versus the same statements run sequentially by ONE psql session (\c between databases,
 * per model: BEGIN; DROP tmp; CREATE TABLE tmp AS …; rename swap; drop; COMMIT) in the same run.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-many-models.ts
 * (BENCH_DATABASES, BENCH_MODELS_PER_DB, BENCH_ITERATIONS, REFRESHER_CONCURRENCY to vary).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addCard,
  addDatabase,
  cpuSeconds,
  fmt,
  Harness,
  machine,
  median,
  pgAdmin,
  psqlFile,
  startHarness,
  writeSection,
} from './refresher-kit';

const DATABASES = Number(process.env.BENCH_DATABASES ?? 20);
const PER_DB = Number(process.env.BENCH_MODELS_PER_DB ?? 50);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3);
const CONCURRENCY = process.env.REFRESHER_CONCURRENCY ?? '4';
const PER_CONSUMER = process.env.REFRESHER_PARTITIONS_PER_CONSUMER ?? '3';

async function cycle(h: Harness, dbIds: number[]): Promise<{ ms: number; success: number; error: number }> {
  const t = performance.now();
  const cpu0 = cpuSeconds(h.refresher.pid!);
  const runIds = [];
  for (const id of dbIds) runIds.push(await h.request(id));
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
    // warm-up: creates the persisted_info rows, schemas and tables
    const warm = await cycle(h, dbIds);
    if (warm.success !== DATABASES * PER_DB) throw new Error(`warm-up refreshed ${warm.success} models`);

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
    await psqlFile(names[0], scriptFile); // warm-up: creates the psql tables

    const service: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const r = await cycle(h, dbIds);
      if (r.success !== DATABASES * PER_DB) throw new Error(`cycle refreshed ${r.success} models`);
      service.push(r.ms);
      direct.push(await psqlFile(names[0], scriptFile));
      console.log(`[many] round ${i + 1}: service ${fmt(service[i])}s vs psql ${fmt(direct[i])}s`);
    }
    const s = median(service);
    const d = median(direct);
    const ratio = s / d;
    writeSection(
      'many-models',
      `### Many models: ${DATABASES * PER_DB} small models over ${DATABASES} databases (bench/refresher-many-models.ts)

Command: \`npx tsc -b tsconfig.build.json && node scripts/run-ts.js bench/refresher-many-models.ts\`
Measured ${new Date().toISOString()} on ${machine()}; PostgreSQL 15 on 127.0.0.1 (${DATABASES} source databases,
${PER_DB} models each over a 100-row table), Kafka (KRaft, 1 node, 12 partitions); one compiled refresher process
with REFRESHER_CONCURRENCY=${CONCURRENCY} Kafka consumers × REFRESHER_PARTITIONS_PER_CONSUMER=${PER_CONSUMER}
(partitions one consumer works on at once when they arrive together).
Service = publish ${DATABASES} database-run RefreshRequested → all ${DATABASES} RefreshRunCompleted received (per model:
lease claim, CREATE TABLE AS + swap, outcome row update, RefreshSucceeded acked by the broker). psql = the same
per-model statements run sequentially by one \`psql -f\` session. Warm-up cycle of each first, then ${ITERATIONS} alternating
rounds; ratio = median service / median psql. Target ≤ 1.0.

| rounds: service s | rounds: psql s | service median s | psql median s | ratio | target |
| --- | --- | --- | --- | --- | --- |
| ${service.map(fmt).join(' / ')} | ${direct.map(fmt).join(' / ')} | ${fmt(s)} | ${fmt(d)} | **${ratio.toFixed(3)}** | ${ratio <= 1 ? 'met' : 'NOT met'} |`,
    );
    console.log('[many] written to bench/results/refresher.md');
  } finally {
    rmSync(scriptFile, { force: true });
    await h.close().catch((e: unknown) => console.error(e));
    for (const n of names)
      await pgAdmin(`drop database if exists "${n}" with (force)`).catch(() => undefined);
  }
}
