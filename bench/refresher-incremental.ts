/*
 * Refresher, incremental model: a BENCH_INC_ROWS-row (default 2,000,000) model with 1 % new or changed rows between
 * refreshes (0.5 % updated, 0.5 % inserted), refreshed incrementally (merge by the key) and by a full rebuild
 * (`full: true` on the RefreshRequested: build + indexes + swap) in the same run, end to end through the compiled
 * refresher (publish RefreshRequested → RefreshSucceeded received), on PostgreSQL and MariaDB. Alternating
 * rounds, the order swapped every round; each measurement is preceded by its own 1 % change.
 * Needs a build (npx tsc -b tsconfig.build.json). Run: node scripts/run-ts.js bench/refresher-incremental.ts
 * (BENCH_INC_ROWS, BENCH_INC_ROUNDS to change the size and the number of rounds). Writes
 * bench/results/refresher-incremental.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import { produceRaw } from '@model-persistence/testing';
import { createConnection } from 'mysql2/promise';
import { commitId, machine, percentile } from './bench-kit';
import { addDatabase, fmt, Harness, HOST, pgAdmin, startHarness } from './refresher-kit';

const median = (xs: number[]) => percentile(xs, 50);

const ROWS = Number(process.env.BENCH_INC_ROWS ?? 2_000_000);
const ROUNDS = Math.max(5, Number(process.env.BENCH_INC_ROUNDS ?? 5));
/** Half of the 1 % is updated, half inserted. */
const CHANGE = Math.max(1, Math.floor(ROWS / 200));
const TARGET = 20;

async function refresh(h: Harness, databaseId: number, cardId: number, full: boolean) {
  const e = createEvent('RefreshRequested', {
    databaseId,
    cardId,
    trigger: 'manual',
    requestedBy: 'bench',
    ...(full ? { full: true } : {}),
  });
  const t = performance.now();
  await produceRaw(h.kafka, topicName(h.prefix, Topics.RefreshRequested), [
    { key: String(databaseId), value: JSON.stringify(e) },
  ]);
  const [ev] = await h.waitFor(
    (x) => (x.type === 'RefreshSucceeded' || x.type === 'RefreshFailed') && x.runId === e.eventId,
  );
  const ms = performance.now() - t;
  if (ev.type !== 'RefreshSucceeded') throw new Error(`refresh failed: ${JSON.stringify(ev)}`);
  const wanted = full ? 'full' : 'incremental';
  if (ev.mode !== wanted) throw new Error(`expected a ${wanted} refresh, got ${JSON.stringify(ev)}`);
  return { ms, event: ev };
}

interface Engine {
  name: string;
  dbId: number;
  cardId: number;
  /** Updates CHANGE existing rows and inserts CHANGE new ones, all with a newer checkpoint. */
  change(): Promise<void>;
  incremental: number[];
  full: number[];
  merged: string[];
}

const spread = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;

export async function main() {
  const tag = randomBytes(3).toString('hex');
  const db = `mp_bench_inc_${tag}`;
  console.log(
    `[inc] ${ROWS} rows in PostgreSQL and MariaDB database ${db}; ${2 * CHANGE} rows changed per refresh`,
  );
  await pgAdmin(`create database "${db}"`);
  await pgAdmin(
    `create table ev as select g as id, md5(g::text) as name, (g % 1000)::numeric(10,2) as amount,
            timestamptz '2026-01-01' + g * interval '1 second' as updated_at from generate_series(1, ${ROWS}) g;
     alter table ev add primary key (id); create index ev_updated_at on ev (updated_at); analyze ev`,
    db,
  );
  const my = await createConnection({ host: HOST, user: 'root' });
  await my.query(`create database \`${db}\``);
  await my.query(`use \`${db}\``);
  await my.query(
    `create table ev as select seq as id, md5(seq) as name, cast(seq % 1000 as decimal(10,2)) as amount,
            timestamp '2026-01-01 00:00:00' + interval seq second as updated_at from seq_1_to_${ROWS}`,
  );
  await my.query('alter table ev add primary key (id), add index ev_updated_at (updated_at)');

  const h = await startHarness('benchinc', { REFRESHER_CONCURRENCY: '2', REFRESH_LEASE_MS: '30000' });
  const schemas: string[] = [];
  try {
    const sql = 'select id, name, amount, updated_at from ev';
    const addIncrementalCard = async (databaseId: number, name: string) =>
      (
        await h.appClient.query<{ id: number }>(
          `insert into card (name, database_id, query_sql, indexes, incremental)
           values ($1, $2, $3, $4, $5) returning id`,
          [
            name,
            databaseId,
            sql,
            JSON.stringify([{ columns: ['updated_at'] }]),
            JSON.stringify({
              checkpointColumn: 'updated_at',
              uniqueKey: ['id'],
              lookback: '10 seconds',
              fullRebuildCron: null,
            }),
          ],
        )
      ).rows[0].id;
    const pgId = await addDatabase(h.appClient, { name: 'pg-inc', engine: 'postgres', dbName: db });
    const myId = await addDatabase(h.appClient, { name: 'my-inc', engine: 'mysql', dbName: db });
    let nextId = ROWS + 1;
    let clock = ROWS + 1_000;
    const step = () => {
      const from = 1 + Math.floor(Math.random() * (ROWS - CHANGE));
      const first = nextId;
      nextId += CHANGE;
      clock += 100;
      return { from, to: from + CHANGE - 1, first, last: first + CHANGE - 1, clock };
    };
    const engines: Engine[] = [
      {
        name: 'PostgreSQL',
        dbId: pgId,
        cardId: await addIncrementalCard(pgId, 'Incremental events'),
        incremental: [],
        full: [],
        merged: [],
        async change() {
          const s = step();
          await pgAdmin(
            `update ev set amount = amount + 1, updated_at = timestamptz '2026-01-01' + ${s.clock} * interval '1 second'
              where id between ${s.from} and ${s.to};
             insert into ev select g, md5(g::text), (g % 1000)::numeric(10,2),
                    timestamptz '2026-01-01' + ${s.clock} * interval '1 second' from generate_series(${s.first}, ${s.last}) g`,
            db,
          );
        },
      },
      {
        name: 'MariaDB',
        dbId: myId,
        cardId: await addIncrementalCard(myId, 'Incremental events'),
        incremental: [],
        full: [],
        merged: [],
        async change() {
          const s = step();
          await my.query(
            `update ev set amount = amount + 1, updated_at = timestamp '2026-01-01 00:00:00' + interval ${s.clock} second
              where id between ${s.from} and ${s.to}`,
          );
          await my.query(
            `insert into ev select seq, md5(seq), cast(seq % 1000 as decimal(10,2)),
                    timestamp '2026-01-01 00:00:00' + interval ${s.clock} second from seq_${s.first}_to_${s.last}`,
          );
        },
      },
    ];
    const loads: number[] = [];
    for (const e of engines) {
      // first build (full), then one merge as a warm-up
      await refresh(h, e.dbId, e.cardId, true);
      await e.change();
      await refresh(h, e.dbId, e.cardId, false);
      schemas.push(
        (
          await h.appClient.query<{ s: string }>(
            'select schema_name as s from persisted_info where card_id = $1',
            [e.cardId],
          )
        ).rows[0].s,
      );
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const e of engines) {
        const order = round % 2 === 0 ? [false, true] : [true, false];
        for (const full of order) {
          await e.change();
          loads.push(loadavg()[0]);
          const r = await refresh(h, e.dbId, e.cardId, full);
          (full ? e.full : e.incremental).push(r.ms);
          if (!full) e.merged.push(`${r.event.rowsInserted}+${r.event.rowsUpdated}`);
        }
        console.log(
          `[inc] round ${round + 1} ${e.name}: incremental ${fmt(e.incremental[round])}s, full ${fmt(e.full[round])}s`,
        );
      }
    }
    const load = Math.max(...loads);
    const loaded = load > 1.5;
    const lines = engines.map((e) => {
      const inc = median(e.incremental);
      const full = median(e.full);
      const ratio = full / inc;
      return `| ${e.name} | ${ROWS.toLocaleString('en-US')} | ${e.incremental.map(fmt).join(' / ')} | ${e.full
        .map(fmt)
        .join(
          ' / ',
        )} | ${fmt(inc)} (${spread(e.incremental)}) | ${fmt(full)} (${spread(e.full)}) | **${ratio.toFixed(1)}×**${
        loaded ? ' (machine loaded)' : ''
      } | ${ratio >= TARGET ? 'met' : 'NOT met'} | ${e.merged[0] ?? ''} |`;
    });
    const text = `### Incremental vs full refresh of one model (bench/refresher-incremental.ts)

Command: \`npx tsc -b tsconfig.build.json && node scripts/run-ts.js bench/refresher-incremental.ts\`
(BENCH_INC_ROWS=${ROWS}, BENCH_INC_ROUNDS=${ROUNDS}). Measured ${new Date().toISOString()} at commit ${commitId()} on ${machine()};
PostgreSQL 15 and MariaDB 10.11 on 127.0.0.1, Kafka on 127.0.0.1; refresher = compiled
\`services/refresher/dist/main.js\` in its own process. Highest 1-minute load average seen before a measurement:
${load.toFixed(2)}${loaded ? ' — **machine loaded** (other jobs ran concurrently; figures are noisy)' : ''}.
Model: \`${sql}\` with \`incremental: {checkpoint_column: updated_at, unique_key: [id], lookback: "10 seconds"}\` and a
managed index on \`updated_at\` (the source has a primary key and an index on \`updated_at\`). Before every
measurement ${CHANGE.toLocaleString('en-US')} rows are updated and ${CHANGE.toLocaleString('en-US')} inserted
(1 % of the model), all with a newer checkpoint. Time = publish of RefreshRequested (individual run; \`full: true\`
for the full rebuild) → RefreshSucceeded received. One full build and one merge as warm-up, then ${ROUNDS}
rounds alternating incremental and full (order swapped every round); ratio = median full / median incremental.
Target ≥ ${TARGET}×.

| engine | rows | incremental s (each round) | full s (each round) | incremental median s (min–max) | full median s (min–max) | ratio | target | merged (inserted+updated) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}
`;
    writeFileSync(`${__dirname}/results/refresher-incremental.md`, text);
    console.log(text);
  } finally {
    await h.close().catch((e: unknown) => console.error(e));
    await pgAdmin(`drop database if exists "${db}" with (force)`).catch(() => undefined);
    await my.query(`drop database if exists \`${db}\``).catch(() => undefined);
    for (const s of schemas.slice(1))
      await my.query(`drop database if exists \`${s}\``).catch(() => undefined);
    await my.end();
  }
}
