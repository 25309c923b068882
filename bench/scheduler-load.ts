/*
 * Scheduler load: the compiled scheduler process (services/scheduler/dist/main.js), real Kafka and
 * PostgreSQL. Four scenarios side by side in one run, each measured over one minute:
 *   A   1,000 persist-enabled databases, 1,000 models on staggered per-minute crons   (1,000 fires/min)
 *   B  10,000 databases, 1,000 models per minute + 9,000 models daily (none due)       (1,000 fires/min)
 *   C  10,000 databases, 10,000 models on staggered per-minute crons                   (10,000 fires/min)
 *   D  10,000 databases on one global cron firing every minute at second 0           (10,000 at once)
 * Databases follow the global cron (set daily, outside the window); staggering comes from per-model crons
 * (a database's own schedule is the one global cron). A vs B: same fires, 10x the schedules → cost per tick
 * follows the fires due. C: 10x the fires. Measured: scheduler CPU seconds per minute (/proc), peak RSS,
 * lateness = publish (broker ack, from the scheduler's own publish log lines) minus planned fire time.
 * Run: node scripts/run-ts.js bench/scheduler-load.ts   (BENCH_WINDOW_S shortens the window, BENCH_SCENARIOS=AB
 * picks scenarios; bench/results/scheduler.md is written only by a full run)
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Topics } from '@model-persistence/contracts';
import { createAppDataSource, SettingKey, SettingRepository } from '@model-persistence/database';
import {
  createTestAppDatabase,
  createTestTopics,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';

const root = path.resolve(__dirname, '..');
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 60);
const TICK = 100; // clock ticks per second on Linux (getconf CLK_TCK)

interface Scenario {
  name: string;
  databases: number;
  /** Models with their own per-minute cron (the other databases' models fire daily, outside the window). */
  perMinute: number;
  /** Instead: no models, every database on the global cron `0 * * * * ? *` (all fire at second 0). */
  globalEveryMinute?: boolean;
}

interface Result extends Scenario {
  schedules: number;
  expectedFires: number;
  published: number;
  duplicates: number;
  cpuSecPerMin: number;
  peakRssMb: number;
  p50: number;
  p99: number;
  max: number;
}

function procStat(pid: number): { cpuTicks: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuTicks, rssMb: rssKb / 1024 };
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runScenario(s: Scenario): Promise<Result> {
  const db = await createTestAppDatabase(`bench${s.name}`);
  const prefix = uniqueTopicPrefix(`bsched${s.name}`);
  const kafkaConfig = testKafkaConfig(prefix);
  const ds = await createAppDataSource({ url: db.url, poolSize: 2 }).initialize();
  let child: ChildProcess | null = null;
  let recorder: TopicRecorder | null = null;
  try {
    await ds.query(
      `insert into "database" (name, engine, host, port, db_name, user_name, persist_models_enabled)
       select 'db' || i, 'postgres', '127.0.0.1', 5432, 'x', 'u', true from generate_series(1, $1) i`,
      [s.databases],
    );
    // model i: per-minute at second i%60 for the first `perMinute`, else daily at 03:mm:ss (outside the window)
    await ds.query(
      `insert into card (name, database_id, query_sql, refresh_cron)
       select 'm' || i, i, 'select 1',
              case when i <= $2 then (i % 60) || ' * * * * ? *'
                   else (i % 60) || ' ' || ((i / 60) % 60) || ' 3 * * ? *' end
       from generate_series(1, $1) i`,
      [s.globalEveryMinute ? 0 : s.databases, s.perMinute],
    );
    const settings = new SettingRepository(ds);
    await settings.set(SettingKey.PersistedModelsEnabled, 'true');
    const hour = (new Date().getUTCHours() + 12) % 24; // the databases' own cron: daily, far from now
    await settings.set(
      SettingKey.RefreshCronSchedule,
      s.globalEveryMinute ? '0 * * * * ? *' : `0 0 ${hour} * * ? *`,
    );
    const kafka = await createTestTopics(kafkaConfig);
    recorder = await new TopicRecorder(kafka, prefix, [Topics.RefreshRequested]).start();

    const lateness: { fire: number; ms: number }[] = [];
    let started = false;
    let buffer = '';
    child = spawn(process.execPath, ['services/scheduler/dist/main.js'], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: kafkaConfig.brokers.join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_TOPIC_PARTITIONS: String(kafkaConfig.partitions),
        DATABASE_URL: db.url,
        INSTANCE_ID: `bench-${s.name}`,
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('scheduler started')) started = true;
        // one line per fire, or one line for n fires of the same instant: "fired <n> <kind> schedules @ …"
        const g = /fired (\d+) \S+ schedules @ (\S+): .*?\((-?\d+) ms late\)/.exec(line);
        const m = g ? null : /fired \S+ @ (\S+): .*\((-?\d+) ms late\)/.exec(line);
        if (g)
          for (let i = 0; i < Number(g[1]); i++) lateness.push({ fire: Date.parse(g[2]), ms: Number(g[3]) });
        else if (m) lateness.push({ fire: Date.parse(m[1]), ms: Number(m[2]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    for (let i = 0; i < 600 && !started; i++) await sleep(100);
    if (!started) throw new Error(`scheduler ${s.name} did not start`);
    await sleep(3000); // settle after start-up (initial load, consumer join)

    const pid = child.pid!;
    const from = Math.ceil((Date.now() + 1000) / 1000) * 1000;
    await sleep(from - Date.now());
    const c0 = procStat(pid);
    let peak = c0.rssMb;
    const sampler = setInterval(() => (peak = Math.max(peak, procStat(pid).rssMb)), 500);
    await sleep(WINDOW_S * 1000);
    const to = Date.now();
    const c1 = procStat(pid);
    clearInterval(sampler);
    peak = Math.max(peak, c1.rssMb);
    await sleep(2000); // let the last fires of the window arrive

    const inWindow = (t: number) => t >= from && t < to;
    const late = lateness
      .filter((l) => inWindow(l.fire))
      .map((l) => l.ms)
      .sort((a, b) => a - b);
    const seen = new Map<string, number>();
    for (const m of recorder.messages) {
      const fire = Date.parse(m.headers['fire-time']?.toString() ?? '');
      if (!inWindow(fire)) continue;
      const k = `${m.headers['schedule-key']?.toString()}@${fire}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    // model i (i ≤ perMinute) fires at second i mod 60 of every minute
    const perSecond = new Array<number>(60).fill(0);
    if (s.globalEveryMinute) perSecond[0] = s.databases;
    else for (let i = 1; i <= s.perMinute; i++) perSecond[i % 60]++;
    let expectedFires = 0;
    for (let t = from; t < to; t += 1000) expectedFires += perSecond[new Date(t).getUTCSeconds()];
    return {
      ...s,
      schedules: s.databases * (s.globalEveryMinute ? 1 : 2) + 2,
      expectedFires,
      published: seen.size,
      duplicates: [...seen.values()].filter((n) => n > 1).length,
      cpuSecPerMin: ((c1.cpuTicks - c0.cpuTicks) / TICK) * (60_000 / (to - from)),
      peakRssMb: peak,
      p50: pct(late, 50),
      p99: pct(late, 99),
      max: late.length ? late[late.length - 1] : NaN,
    };
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await recorder?.stop();
    await ds.destroy();
    await db.drop();
  }
}

export async function main() {
  const scenarios: Scenario[] = [
    { name: 'A', databases: 1_000, perMinute: 1_000 },
    { name: 'B', databases: 10_000, perMinute: 1_000 },
    { name: 'C', databases: 10_000, perMinute: 10_000 },
    { name: 'D', databases: 10_000, perMinute: 10_000, globalEveryMinute: true },
  ].filter((s) => !process.env.BENCH_SCENARIOS || process.env.BENCH_SCENARIOS.includes(s.name));
  execFileSync('npx', ['tsc', '-b', 'services/scheduler/tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  const results: Result[] = [];
  for (const s of scenarios) {
    console.log(`[scheduler-load] scenario ${s.name}: ${s.databases} databases, ${s.perMinute} fires/min`);
    const r = await runScenario(s);
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const by = new Map(results.map((r) => [r.name, r]));
  const row = (r: Result) =>
    `| ${r.name} | ${r.databases.toLocaleString('en')} | ${r.schedules.toLocaleString('en')} | ${r.perMinute.toLocaleString('en')} | ${r.published}/${r.expectedFires} | ${r.duplicates} | ${r.cpuSecPerMin.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} |`;
  const ratio = (x: string, y: string) =>
    by.has(x) && by.has(y) ? (by.get(x)!.cpuSecPerMin / by.get(y)!.cpuSecPerMin).toFixed(2) : 'n/a';
  const md = [
    '## Scheduler: 10,000 databases, staggered crons',
    '',
    `Command: \`node scripts/run-ts.js bench/scheduler-load.ts\` (window ${WINDOW_S} s per scenario; ${new Date().toISOString()}; 2 shared cores; one compiled scheduler process, real Kafka + PostgreSQL).`,
    '',
    '- A: 1,000 databases, 1,000 models with staggered per-minute crons (model i at second i mod 60).',
    '- B: 10,000 databases, 1,000 models per minute as in A + 9,000 models on distinct daily crons (not due).',
    '- C: 10,000 databases, 10,000 models on staggered per-minute crons.',
    '- D: 10,000 databases on the global cron `0 * * * * ? *`: all 10,000 fire at the same second.',
    '',
    'In A-C the databases follow the global cron, set daily outside the window. Lateness = broker ack of the publish',
    "minus planned fire time, from the scheduler's publish log lines. CPU = utime+stime of the scheduler process per",
    'minute of wall time; RSS sampled every 0.5 s during the window.',
    '',
    '| scenario | databases | schedules | fires/min | published/expected in window | duplicates | CPU s/min | peak RSS MB | lateness p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(row),
    '',
    `Ratios: B/A CPU ${ratio('B', 'A')}x for 10x the schedules at the same fires/min;`,
    `C/B CPU ${ratio('C', 'B')}x for 10x the fires at the same schedules.`,
    '',
  ].join('\n');
  if (results.length === 4 && WINDOW_S >= 60)
    writeFileSync(path.join(root, 'bench/results/scheduler.md'), md);
  console.log(md);
}
