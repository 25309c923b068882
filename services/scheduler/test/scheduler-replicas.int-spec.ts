import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Topics } from '@model-persistence/contracts';
import { eventually } from '@model-persistence/testing';
import {
  createSchedulerTestBed,
  fireCounts,
  fireTime,
  header,
  SchedulerTestBed,
  schedulerEnv,
  sleep,
} from './scheduler.test-kit';

/*
 * Point 8: three scheduler processes at once on one app database. Every fire is published exactly once;
 * SIGKILL the replica that published last and the next fires still happen once; a replica that dies between
 * claim and publish (simulated by a claim row nobody publishes) is taken over after SCHEDULER_CLAIM_STALE_MS.
 */
const root = path.resolve(__dirname, '../../..');
const STALE_MS = 3000;
let bed: SchedulerTestBed;
const procs = new Map<string, { child: ChildProcess; out: string[] }>();
const dbIds: number[] = [];
let cardId: number;

function spawnScheduler(id: string): void {
  const out: string[] = [];
  const child = spawn(process.execPath, ['scripts/run-ts.js', 'services/scheduler/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ...schedulerEnv(bed, id, 3),
      LOG_LEVEL: 'info',
      SCHEDULER_CLAIM_STALE_MS: String(STALE_MS),
      NODE_ENV: 'test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
  procs.set(id, { child, out });
}

/** For each schedule: fire time → how many times it was published. */
const publishedFires = () =>
  fireCounts(bed.recorder.messages.filter((x) => x.event?.type === 'RefreshRequested'));

/** Every fire in [from, to] of a schedule with this period was published exactly once. */
function expectEachFireOnce(key: string, periodMs: number, from: number, to: number) {
  const times = publishedFires().get(key) ?? new Map<number, number>();
  const expected: number[] = [];
  for (let t = Math.ceil(from / periodMs) * periodMs; t <= to; t += periodMs) expected.push(t);
  const seen = expected.map((t) => [new Date(t).toISOString(), times.get(t) ?? 0]);
  expect(seen).toEqual(expected.map((t) => [new Date(t).toISOString(), 1]));
  for (const [, n] of times) expect(n).toBe(1);
}

beforeAll(async () => {
  bed = await createSchedulerTestBed('replicas', [Topics.RefreshRequested]);
  for (const name of ['a', 'b', 'c']) dbIds.push(await bed.addDatabase(name, true));
  cardId = (
    await bed.cards.create({
      name: 'm',
      databaseId: dbIds[0],
      sql: 'select 1',
      refreshCron: '0/2 * * * * ? *',
    })
  ).id;
  for (const id of ['r1', 'r2', 'r3']) spawnScheduler(id);
  await eventually(
    async () => [...procs.values()].every((p) => p.out.join('').includes('scheduler started')),
    60_000,
    200,
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}\n${[...procs.values()].map((p) => p.out.join('').slice(-2000)).join('\n---\n')}`,
    );
  });
}, 90_000);

afterAll(async () => {
  for (const { child } of procs.values())
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(
    [...procs.values()].map(
      ({ child }) =>
        new Promise<void>((r) =>
          child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
        ),
    ),
  );
  await bed?.close();
}, 60_000);

describe('three scheduler replicas (processes, real Kafka and PostgreSQL)', () => {
  it('publishes every fire exactly once; after SIGKILL of the active replica the next fires still happen once', async () => {
    const from = Date.now() + 500;
    await sleep(9_000);
    // the replica that published the latest fire of database a
    const latest = (await bed.claims.findByKey(`database:${dbIds[0]}`)).filter((c) => c.publishedAt).pop()!;
    expect(['r1', 'r2', 'r3']).toContain(latest.claimedBy);
    // kill it where no fire is due (second ≡ 5 mod 6: neither a 3 s nor a 2 s boundary), so it is not mid-publish
    const now = Date.now();
    const killAt = Math.floor(now / 6000) * 6000 + 5300 + (now % 6000 > 5000 ? 6000 : 0);
    await sleep(killAt - now);
    procs.get(latest.claimedBy)!.child.kill('SIGKILL');
    await sleep(9_000);
    const to = Date.now() - 1500;
    for (const id of dbIds) expectEachFireOnce(`database:${id}`, 3000, from, to);
    expectEachFireOnce(`model:${cardId}`, 2000, from, to);
    // fires already due: claims of the next fires may exist unpublished (claimed ahead of their fire time)
    const after = (await bed.claims.findByKey(`database:${dbIds[1]}`)).filter(
      (c) => c.fireTime.getTime() > killAt && c.fireTime.getTime() <= to,
    );
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.every((c) => c.publishedAt && c.claimedBy !== latest.claimedBy)).toBe(true);
  }, 60_000);

  it('a claim whose owner died before publishing is taken over once after the stale period', async () => {
    const key = `database:${dbIds[2]}`;
    const next = Math.ceil((Date.now() + 1500) / 3000) * 3000; // a fire at least 1.5 s away
    const ghostAt = Date.now();
    await bed.ds.query(
      `insert into schedule_claim (schedule_key, fire_time, claimed_by) values ($1, $2, 'ghost')`,
      [key, new Date(next).toISOString()],
    );
    const [m] = await bed.recorder.waitFor(
      (x) => header(x, 'schedule-key') === key && fireTime(x) === next,
      1,
      STALE_MS + 15_000,
    );
    // published by a live replica that fenced the ghost out, once the ghost's claim had gone stale
    expect(Number(m.raw.timestamp)).toBeGreaterThanOrEqual(Math.max(next, ghostAt + STALE_MS) - 100);
    // marked published just after the broker's ack
    const row = await eventually(
      async () =>
        (await bed.claims.findByKey(key)).find((c) => c.fireTime.getTime() === next && c.publishedAt),
      10_000,
    );
    expect(row.claimedBy).not.toBe('ghost');
    await sleep(STALE_MS);
    expect(publishedFires().get(key)?.get(next)).toBe(1);
  }, 60_000);
});
