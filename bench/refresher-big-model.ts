/*
 * Refresher, big model: a 2,000,000-row source table materialized end to end through the service (publish
 * RefreshRequested → RefreshSucceeded received, compiled refresher process, real Kafka) versus the same
 * CREATE TABLE AS + swap run directly with the command-line client (psql / mysql) in the same run, for
 * PostgreSQL and MariaDB. Also the refresher's peak RSS (VmHWM) after a 10 % model and after the full one.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-big-model.ts
 * (BENCH_BIG_ROWS, BENCH_ITERATIONS to change the size and the number of alternating rounds).
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import {
  addCard,
  addDatabase,
  fmt,
  Harness,
  HOST,
  machine,
  median,
  mysqlCli,
  peakRssMb,
  pgAdmin,
  psql,
  startHarness,
  writeSection,
} from './refresher-kit';

const ROWS = Number(process.env.BENCH_BIG_ROWS ?? 2_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3);
const SMALL = Math.floor(ROWS / 10);

async function refreshViaService(h: Harness, databaseId: number, cardId: number): Promise<number> {
  const t = performance.now();
  const runId = await h.request(databaseId, cardId);
  const [e] = await h.waitFor(
    (e) => (e.type === 'RefreshSucceeded' || e.type === 'RefreshFailed') && e.runId === runId,
  );
  if (e.type !== 'RefreshSucceeded') throw new Error(`refresh failed: ${JSON.stringify(e)}`);
  return performance.now() - t;
}

interface EngineResult {
  engine: string;
  service: number[];
  direct: number[];
  rows: number;
}

export async function main() {
  const tag = randomBytes(3).toString('hex');
  const pgDb = `mp_bench_big_${tag}`;
  const myDb = `mp_bench_big_${tag}`;
  console.log(`[big] creating ${ROWS} rows in PostgreSQL ${pgDb} and MariaDB ${myDb}`);
  await pgAdmin(`create database "${pgDb}"`);
  await pgAdmin(
    `create table big as select g as id, md5(g::text) as name, (g % 1000)::numeric(10,2) as amount,
            timestamptz '2026-01-01' + g * interval '1 second' as ts from generate_series(1, ${ROWS}) g`,
    pgDb,
  );
  await pgAdmin('analyze big', pgDb);
  const my = await createConnection({ host: HOST, user: 'root' });
  await my.query(`create database \`${myDb}\``);
  await my.query(`use \`${myDb}\``);
  await my.query(
    `create table big as select seq as id, md5(seq) as name, cast(seq % 1000 as decimal(10,2)) as amount,
            timestamp '2026-01-01 00:00:00' + interval seq second as ts from seq_1_to_${ROWS}`,
  );

  const h = await startHarness('benchbig', { REFRESHER_CONCURRENCY: '2', REFRESH_LEASE_MS: '30000' });
  let mySchema: string | null = null;
  try {
    const pgId = await addDatabase(h.appClient, { name: 'pg-big', engine: 'postgres', dbName: pgDb });
    const myId = await addDatabase(h.appClient, { name: 'my-big', engine: 'mysql', dbName: myDb });
    const bigSql = 'select id, name, amount, ts from big';
    const smallSql = `select id, name, amount, ts from big where id <= ${SMALL}`;
    const pgBig = await addCard(h.appClient, pgId, 'Big model', bigSql);
    const pgSmall = await addCard(h.appClient, pgId, 'Tenth model', smallSql);
    const myBig = await addCard(h.appClient, myId, 'Big model', bigSql);
    const mySmall = await addCard(h.appClient, myId, 'Tenth model', smallSql);
    const pid = h.refresher.pid!;

    // peak RSS after the 10 % models only, then after the full-size ones
    await refreshViaService(h, pgId, pgSmall);
    await refreshViaService(h, myId, mySmall);
    const rssSmall = peakRssMb(pid).hwm;

    const schemaOf = async (cardId: number) =>
      (
        await h.appClient.query<{ s: string }>(
          'select schema_name as s from persisted_info where card_id = $1',
          [cardId],
        )
      ).rows[0].s;
    const pgSchema = await schemaOf(pgSmall);
    mySchema = await schemaOf(mySmall);

    const pgDirect = `BEGIN; SET LOCAL statement_timeout = 600000;
      DROP TABLE IF EXISTS "${pgSchema}".psql_tmp;
      CREATE TABLE "${pgSchema}".psql_tmp AS ${bigSql};
      ALTER TABLE IF EXISTS "${pgSchema}".psql_target RENAME TO psql_bak;
      ALTER TABLE "${pgSchema}".psql_tmp RENAME TO psql_target;
      DROP TABLE IF EXISTS "${pgSchema}".psql_bak; COMMIT;`;
    const myDirect = `SET SESSION max_statement_time = 600;
      DROP TABLE IF EXISTS \`${mySchema}\`.cli_tmp;
      CREATE TABLE \`${mySchema}\`.cli_tmp AS ${bigSql};
      RENAME TABLE \`${mySchema}\`.cli_target TO \`${mySchema}\`.cli_bak, \`${mySchema}\`.cli_tmp TO \`${mySchema}\`.cli_target;
      DROP TABLE \`${mySchema}\`.cli_bak;`;

    // warm-up: both sides once, so every measured round replaces an existing table
    await refreshViaService(h, pgId, pgBig);
    await psql(pgDb, pgDirect);
    await refreshViaService(h, myId, myBig);
    await mysqlCli(`CREATE TABLE \`${mySchema}\`.cli_target AS select 1 as x`, myDb);
    await mysqlCli(myDirect, myDb);

    const results: EngineResult[] = [
      { engine: 'PostgreSQL', service: [], direct: [], rows: ROWS },
      { engine: 'MariaDB', service: [], direct: [], rows: ROWS },
    ];
    let peakDuring = 0;
    const sampler = setInterval(() => (peakDuring = Math.max(peakDuring, peakRssMb(pid).rss)), 100);
    for (let i = 0; i < ITERATIONS; i++) {
      results[0].service.push(await refreshViaService(h, pgId, pgBig));
      results[0].direct.push(await psql(pgDb, pgDirect));
      results[1].service.push(await refreshViaService(h, myId, myBig));
      results[1].direct.push(await mysqlCli(myDirect, myDb));
      console.log(
        `[big] round ${i + 1}: pg ${fmt(results[0].service[i])}s vs ${fmt(results[0].direct[i])}s, ` +
          `maria ${fmt(results[1].service[i])}s vs ${fmt(results[1].direct[i])}s`,
      );
    }
    clearInterval(sampler);
    const rssBig = peakRssMb(pid).hwm;

    const lines = results.map((r) => {
      const s = median(r.service);
      const d = median(r.direct);
      const ratio = s / d;
      return `| ${r.engine} | ${r.rows.toLocaleString('en-US')} | ${r.service.map(fmt).join(' / ')} | ${r.direct
        .map(fmt)
        .join(
          ' / ',
        )} | ${fmt(s)} | ${fmt(d)} | **${ratio.toFixed(3)}** | ${ratio <= 1.1 ? 'met' : 'NOT met'} |`;
    });
    writeSection(
      'big-model',
      `### Big model: end to end through the service vs CREATE TABLE AS + swap with the CLI (bench/refresher-big-model.ts)

Command: \`npx tsc -b tsconfig.build.json && node scripts/run-ts.js bench/refresher-big-model.ts\`
Measured ${new Date().toISOString()} on ${machine()}; PostgreSQL 15 and MariaDB 10.11 on 127.0.0.1, Kafka (KRaft,
1 node) on 127.0.0.1; refresher = compiled \`services/refresher/dist/main.js\` in its own process.
Model: \`${bigSql}\` (id int, md5 text, numeric, timestamp). Service time = publish of RefreshRequested (individual
run) → RefreshSucceeded received by a Kafka consumer. CLI time = one \`psql -c\` / \`mysql -e\` process running
the same DROP tmp; CREATE TABLE tmp AS …; rename swap; drop (PostgreSQL in one transaction). One warm-up of each,
then ${ITERATIONS} alternating rounds; ratio = median service / median CLI. Target ≤ 1.10.

| engine | rows | service s (each round) | CLI s (each round) | service median s | CLI median s | ratio | target |
| --- | --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}

Peak RSS of the refresher process (VmHWM from /proc): **${rssSmall.toFixed(0)} MB** after refreshing the 10 % models
(${SMALL.toLocaleString('en-US')} rows each), **${rssBig.toFixed(0)} MB** after the ${ROWS.toLocaleString('en-US')}-row
models (highest VmRSS sampled every 100 ms during the measured rounds: ${peakDuring.toFixed(0)} MB). Target ≤ 200 MB,
flat in the model's size: ${rssBig <= 200 && rssBig - rssSmall < 20 ? 'met' : 'NOT met'} (rows never flow through Node: CREATE TABLE … AS runs on the server).`,
    );
    console.log(`[big] written to bench/results/refresher.md`);
  } finally {
    await h.close().catch((e: unknown) => console.error(e));
    await pgAdmin(`drop database if exists "${pgDb}" with (force)`).catch(() => undefined);
    await my.query(`drop database if exists \`${myDb}\``).catch(() => undefined);
    if (mySchema) await my.query(`drop database if exists \`${mySchema}\``).catch(() => undefined);
    await my.end();
  }
}
