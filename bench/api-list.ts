/*
 * Benchmark: GET /api/model-persistence?limit=50 with 10,000 persisted rows, under autocannon load on loopback,
 * side by side with GET /health on the same server (baseline: the HTTP + auth-free floor of the process).
 * Run: node scripts/run-ts.js bench/api-list.ts   (or `npm run bench -- api-list`)
 * Writes bench/results/api.md.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { createTestAppDatabase, TEST_BROKERS, uniqueTopicPrefix } from '@model-persistence/testing';

const ROOT = join(__dirname, '..');
const ROWS = 10_000;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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
  const loadBefore = loadavg()[0];
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

    await load(base, '/api/model-persistence?limit=50', 'warm-up', token, 3);
    // the machine is shared: baseline and list alternate in ROUNDS rounds, and the median round is reported
    const rounds: { baseline: Figures; list: Figures }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push({
        baseline: await load(base, '/health', `baseline: GET /health (round ${i + 1})`, token, DURATION_S),
        list: await load(
          base,
          '/api/model-persistence?limit=50',
          `list, first page (round ${i + 1})`,
          token,
          DURATION_S,
        ),
      });
    }
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
    const all = [...rounds.flatMap((r) => [r.baseline, r.list]), ...others];
    for (const r of all) {
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`${r.label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    }
    const median = [...rounds].sort((a, b) => a.list.p99 - b.list.p99)[Math.floor(ROUNDS / 2)];
    const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 1);
    const row = (r: Figures, baseline: Figures) =>
      `| ${r.label} | \`${r.path}\` | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${Math.round(r.rps)} | ${(r.rps / baseline.rps).toFixed(2)} |`;
    const table = [
      ...rounds.flatMap((r) => [row(r.baseline, r.baseline), row(r.list, r.baseline)]),
      ...others.map((r) => row(r, median.baseline)),
    ].join('\n');
    const list = median.list;
    const md = `## api: persisted-model list under load (bench/api-list.ts)

Command: \`node scripts/run-ts.js bench/api-list.ts\` (also \`npm run bench -- api-list\`)
Measured ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version};
PostgreSQL 127.0.0.1, the api as a separate process (\`services/api/src/main.ts\`, telemetry on as in production),
autocannon on loopback with ${CONNECTIONS} connections for ${DURATION_S} s per row (after a 3 s warm-up); baseline and
first page alternate in ${ROUNDS} rounds. App database: ${ROWS.toLocaleString('en')} persisted_info rows (20 databases,
${ROWS.toLocaleString('en')} cards, mixed states, 10 % with a cron override).
Every request carries the bearer token (verified hashes are remembered for 10 s); each list response is one SQL
statement (page + total) and computes next fire time and staleness for its 50 items.
Machine load (1-min load average, shared with other work): ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.

| case | path | p50 ms | p90 ms | p99 ms | max ms | req/s | req/s vs baseline |
| --- | --- | --- | --- | --- | --- | --- | --- |
${table}

Target p99 ≤ 50 ms for the first page (median round by p99): **${list.p99 <= 50 ? 'met' : 'NOT met'}** (p99 ${fmt(list.p99)} ms,
p50 ${fmt(list.p50)} ms, ${Math.round(list.rps)} req/s = ${(list.rps / median.baseline.rps).toFixed(2)} × the baseline's req/s).
`;
    writeFileSync(join(ROOT, 'bench/results/api.md'), md);
    console.log(md);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await db.drop();
  }
}
