/*
 * Refresher, big model: a 2,000,000-row source table materialized end to end through the service (publish
 * RefreshRequested → RefreshSucceeded received, compiled refresher process, real Kafka) versus the same
 * CREATE TABLE AS + swap run directly with the command-line client (psql / mysql) in the same run, for
 * PostgreSQL and MariaDB. Also the refresher's peak RSS (VmHWM) after a 10 % model and after the full one.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-big-model.ts
 * (BENCH_BIG_ROWS to change the size, BENCH_ROUNDS ≥ 5 the number of alternating rounds). This table is the proof
 * that the derived-table wrapper `CREATE TABLE tmp AS SELECT * FROM (<sql>) AS mp_model` costs nothing measurable.
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
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
import {
  addCard,
  addDatabase,
  fmt,
  Harness,
  HOST,
  mysqlCli,
  peakRssMb,
  pgAdmin,
  psql,
  startHarness,
} from './refresher-kit';

const ROWS = Number(process.env.BENCH_BIG_ROWS ?? 2_000_000);
const ROUNDS = benchRounds();
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

export async function main() {
  const startedAt = new Date();
  const commit = commitId();
  const load = new LoadMonitor().start();
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

    // the CLI's swap renames an existing table: create it once (the warm-up rounds of alternate() do the rest)
    await mysqlCli(`CREATE TABLE \`${mySchema}\`.cli_target AS select 1 as x`, myDb);

    let peakDuring = 0;
    const sampler = setInterval(() => (peakDuring = Math.max(peakDuring, peakRssMb(pid).rss)), 100);
    const results: { engine: string; r: AlternateResult }[] = [];
    results.push({
      engine: 'PostgreSQL',
      r: await alternate(
        { name: 'service', run: () => refreshViaService(h, pgId, pgBig) },
        { name: 'psql', run: () => psql(pgDb, pgDirect) },
        ROUNDS,
        (i, a, b) => console.log(`[big] pg round ${i}: service ${fmt(a)}s vs psql ${fmt(b)}s`),
      ),
    });
    results.push({
      engine: 'MariaDB',
      r: await alternate(
        { name: 'service', run: () => refreshViaService(h, myId, myBig) },
        { name: 'mysql', run: () => mysqlCli(myDirect, myDb) },
        ROUNDS,
        (i, a, b) => console.log(`[big] maria round ${i}: service ${fmt(a)}s vs mysql ${fmt(b)}s`),
      ),
    });
    clearInterval(sampler);
    const rssBig = peakRssMb(pid).hwm;
    const mark = load.stop();

    const rows = results.map(({ engine, r }) => {
      const s = spread(r.a);
      const d = spread(r.b);
      const ratio = s.median / d.median;
      return [
        engine,
        ROWS.toLocaleString('en-US'),
        r.a.map(fmt).join(' / '),
        r.b.map(fmt).join(' / '),
        fmtSpread(s, 2, 1000),
        fmtSpread(d, 2, 1000),
        `**${ratio.toFixed(3)}**`,
        verdict(ratio <= 1.1, mark),
      ];
    });
    const table = mdTable(
      [
        'engine',
        'rows',
        'service s (each round)',
        'CLI s (each round)',
        'service median (min–max) s',
        'CLI median (min–max) s',
        'ratio',
        'target ≤ 1.10',
      ],
      rows,
    );
    writeResult(
      'refresher-big-model',
      `${resultHeader({
        title:
          'Big model: end to end through the service vs CREATE TABLE AS + swap with the CLI (bench/refresher-big-model.ts)',
        command: `${ROWS === 2_000_000 ? '' : `BENCH_BIG_ROWS=${ROWS} `}node scripts/run-ts.js bench/refresher-big-model.ts`,
        commit,
        load: mark,
        startedAt,
      })}

PostgreSQL 15 and MariaDB 10.11 on 127.0.0.1, Kafka (KRaft, 1 node) on 127.0.0.1; refresher = compiled
\`services/refresher/dist/main.js\` in its own process. Model: \`${bigSql}\` (id int, md5 text, numeric, timestamp).
Service time = publish of RefreshRequested (individual run, client producer kept connected) → RefreshSucceeded
received by a Kafka consumer; the service builds with the derived-table wrapper
\`CREATE TABLE tmp AS SELECT * FROM (<sql>) AS mp_model\`. CLI time = one \`psql -c\` / \`mysql -e\` process running the
plain DROP tmp; CREATE TABLE tmp AS <sql>; rename swap; drop (PostgreSQL in one transaction). One warm-up of each,
then ${ROUNDS} rounds alternating service and CLI (order swapped every round); ratio = median service / median CLI.
**Target: ratio ≤ 1.10 on both engines at 2,000,000 rows** (the wrapper costs nothing measurable).

${table}

Peak RSS of the refresher process (VmHWM from /proc): **${rssSmall.toFixed(0)} MB** after refreshing the 10 % models
(${SMALL.toLocaleString('en-US')} rows each), **${rssBig.toFixed(0)} MB** after the ${ROWS.toLocaleString('en-US')}-row
models (highest VmRSS sampled every 100 ms during the measured rounds: ${peakDuring.toFixed(0)} MB). Target ≤ 200 MB,
flat in the model's size: ${rssBig <= 200 && rssBig - rssSmall < 20 ? 'met' : 'NOT met'} (rows never flow through Node: CREATE TABLE … AS runs on the server).`,
    );
    console.log(`[big] written to bench/results/refresher-big-model.md`);
  } finally {
    await h.close().catch((e: unknown) => console.error(e));
    await pgAdmin(`drop database if exists "${pgDb}" with (force)`).catch(() => undefined);
    await my.query(`drop database if exists \`${myDb}\``).catch(() => undefined);
    if (mySchema) await my.query(`drop database if exists \`${mySchema}\``).catch(() => undefined);
    await my.end();
  }
}
