/*
 * Benchmark: GET /api/model-persistence?limit=50 with 10,000 persisted rows, under autocannon load on loopback,
 * side by side with GET /health on the same server (baseline: the HTTP + auth-free floor of the process).
 * Run: node scripts/run-ts.js bench/api-list.ts   (or `npm run bench -- api-list`)
 * Writes bench/results/api.md.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { createTestAppDatabase, TEST_BROKERS, uniqueTopicPrefix } from '@model-persistence/testing';
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

const ROOT = join(__dirname, '..');
const ROWS = 10_000;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = benchRounds();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function seed(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`insert into setting (key, value) values ('persisted-models-enabled', 'true')
                   on conflict (key) do update set value = excluded.value`);
    await c.query(`insert into "database" (name, engine, host, port, db_name, user_name, persist_models_enabled)
                   select 'db ' || i, case when i % 2 = 0 then 'postgres' else 'mysql' end, '127.0.0.1', 5432,
                          'src', 'u', i % 5 <> 0
                   from generate_series(1, 20) i`);
    await c.query(
      `insert into card (name, database_id, query_sql, type, archived, refresh_cron)
       select 'Model number ' || i, 1 + i % 20, 'select ' || i, 'model', i % 97 = 0,
              case when i % 10 = 0 then '0 ' || (i % 60) || ' 1 * * ? *' end
       from generate_series(1, $1::int) i`,
      [ROWS],
    );
    await c.query(
      `insert into persisted_info (database_id, card_id, question_slug, schema_name, table_name, state, active,
                                   query_hash, refresh_begin, refresh_end, state_change_at, last_success_at, creator,
                                   definition)
       select c.database_id, c.id, 'model_numb', 'mp_cache_abcde_' || c.database_id, 'model_' || c.id || '_model_numb',
              (array['persisted','persisted','persisted','error','creating','refreshing','off','deletable'])[1 + c.id % 8],
              c.id % 8 < 3, md5(c.id::text), now() - interval '2 hours', now() - interval '1 hour', now(),
              now() - (c.id % 7200) * interval '1 second', 'bench',
              jsonb_build_object('tableName', 'model_' || c.id, 'fieldDefinitions',
                jsonb_build_array(jsonb_build_object('fieldName', 'n', 'baseType', 'integer')))
       from card c`,
    );
    await c.query('vacuum analyze');
  } finally {
    await c.end();
  }
}

async function waitHealthy(base: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`api exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('api did not become healthy within 90 s');
}

interface Figures {
  label: string;
  path: string;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  rps: number;
  non2xx: number;
  errors: number;
}

async function load(
  base: string,
  path: string,
  label: string,
  token: string,
  seconds: number,
): Promise<Figures> {
  const r = await autocannon({
    url: `${base}${path}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    label,
    path,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    rps: r.requests.average,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

export async function main(): Promise<void> {
  const startedAt = new Date();
  const commit = commitId();
  const monitor = new LoadMonitor().start();
  const db = await createTestAppDatabase('benchapi');
  let child: ChildProcess | undefined;
  try {
    await seed(db.url);
    const port = await freePort();
    const token = `bench-${randomBytes(12).toString('hex')}`;
    child = spawn(process.execPath, [join(ROOT, 'scripts/run-ts.js'), 'services/api/src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS.join(','),
        KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('benchapi'),
        KAFKA_TOPIC_PARTITIONS: '1',
        API_PORT: String(port),
        API_BOOTSTRAP_TOKEN: token,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, child);

    const sample = await fetch(`${base}/api/model-persistence?limit=50`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const page = (await sample.json()) as { total: number; data: unknown[] };
    if (page.total !== ROWS || page.data.length !== 50) {
      throw new Error(`unexpected list response: total ${page.total}, ${page.data.length} items`);
    }

    // the machine is shared: baseline and first page alternate (order swapped every round, one warm-up each);
    // each round's p99 is its figure, the median round is reported with the spread
    const baselines: Figures[] = [];
    const lists: Figures[] = [];
    let warm = true;
    const r = await alternate(
      {
        name: 'list',
        run: async () => {
          const f = await load(
            base,
            '/api/model-persistence?limit=50',
            'list, first page',
            token,
            DURATION_S,
          );
          if (!warm) lists.push(f);
          return f.p99;
        },
      },
      {
        name: 'baseline',
        run: async () => {
          const f = await load(base, '/health', 'baseline: GET /health', token, DURATION_S);
          if (warm) warm = false;
          else baselines.push(f);
          return f.p99;
        },
      },
      ROUNDS,
      (i, a, b) => console.log(`[api] round ${i}: list p99 ${a} ms, /health p99 ${b} ms`),
    );
    const others = [
      await load(base, '/api/model-persistence?limit=50&offset=9000', 'list, offset 9000', token, DURATION_S),
      await load(
        base,
        '/api/model-persistence?limit=50&state=error&database_id=4',
        'list, filtered (state + database)',
        token,
        DURATION_S,
      ),
    ];
    const mark = monitor.stop();
    for (const f of [...baselines, ...lists, ...others]) {
      if (f.non2xx > 0 || f.errors > 0)
        throw new Error(`${f.label}: ${f.non2xx} non-2xx, ${f.errors} errors`);
    }
    const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 1);
    const med = (xs: number[]) => spread(xs).median;
    const baseRps = med(baselines.map((f) => f.rps));
    const summary = (label: string, path: string, fs: Figures[]) => [
      label,
      `\`${path}\``,
      fs.length,
      fmt(med(fs.map((f) => f.p50))),
      fmt(med(fs.map((f) => f.p90))),
      fmtSpread(spread(fs.map((f) => f.p99)), 1),
      fmt(Math.max(...fs.map((f) => f.max))),
      Math.round(med(fs.map((f) => f.rps))),
      (med(fs.map((f) => f.rps)) / baseRps).toFixed(2),
    ];
    const table = mdTable(
      [
        'case',
        'path',
        'loads',
        'p50 ms',
        'p90 ms',
        'p99 ms: median (min–max)',
        'max ms',
        'req/s',
        'req/s vs baseline',
      ],
      [
        summary('baseline: GET /health', '/health', baselines),
        summary('list, first page', '/api/model-persistence?limit=50', lists),
        ...others.map((f) => summary(f.label, f.path, [f])),
      ],
    );
    const p99 = spread(r.a).median;
    const md = `${resultHeader({
      title: 'api: persisted-model list under load (bench/api-list.ts)',
      command: `${DURATION_S === 8 ? '' : `BENCH_DURATION_S=${DURATION_S} `}node scripts/run-ts.js bench/api-list.ts`,
      commit,
      load: mark,
      startedAt,
    })}

PostgreSQL 127.0.0.1, the api as a separate process (\`services/api/src/main.ts\`, telemetry on as in production),
autocannon on loopback with ${CONNECTIONS} connections for ${DURATION_S} s per load; one warm-up load of each side, then
${ROUNDS} rounds alternating the first page and the baseline (order swapped every round); per case the median over
rounds of p50 / p90 / req/s, and p99 as median (min–max). App database: ${ROWS.toLocaleString('en')} persisted_info rows
(20 databases, ${ROWS.toLocaleString('en')} cards, mixed states, 10 % with a cron override). Every request carries the
bearer token (verified hashes are remembered for 10 s); each list response is one SQL statement (page + total) and
computes next fire time and staleness for its 50 items. The offset and filtered cases are one load each.

${table}

Target p99 ≤ 50 ms for the first page (median over rounds): **${verdict(p99 <= 50, mark)}** (p99 ${fmt(p99)} ms).
`;
    writeResult('api-list', md);
    console.log(md);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await db.drop();
  }
}
