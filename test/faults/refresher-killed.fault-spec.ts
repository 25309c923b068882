import { eventually, ServiceProcess } from '@model-persistence/testing';
import { Client } from 'pg';
import { assertBuilt, createSourcePg, FaultStack, MODE, PG, recordFigures, size } from './support/stack';

/*
 * Scenario 1 — a refresher replica is killed (SIGKILL) in the middle of a long refresh, 3 replicas in one
 * consumer group: another replica takes the partition, the refresh completes once, no row stays `refreshing`,
 * and a concurrent reader of the old cache table never sees an error. Both lease paths run in every mode (the
 * short one included): the successor arrives while the dead replica's lease is still live and waits it out
 * (a long lease, a short consumer session), or after the lease expired and takes the row at once (a short
 * lease, a long session). Which path ran is asserted from the successor's log, so neither is left to chance.
 */
const REFRESH_SECONDS = size(10, 120);
const KILL_AFTER_MS = size(3_000, 30_000);
/** What a successor logs when it waits out a live foreign lease (ModelRefreshService.claim). */
const WAITED_FOR_LEASE = /is leased by .* waiting for it/;
const LEASE_PATHS = [
  // renewed every lease/3: the lease outlives the kill by 13–20 s; the session ends ~6 s after it
  { path: 'live lease waited out', leaseMs: 20_000, sessionMs: 6_000, waits: true },
  // the lease ends ≤3 s after the kill; the partition moves only when the 10 s session times out
  { path: 'expired lease taken over', leaseMs: 3_000, sessionMs: 10_000, waits: false },
] as const;
jest.setTimeout((REFRESH_SECONDS * 2 + 170) * 1000);

const slowSql = (seconds: number) =>
  `select o.id, o.amount from orders o, (select 1 as z from pg_sleep(${seconds})) s`;

describe.each(LEASE_PATHS)(`fault 1: refresher killed mid-refresh, 3 replicas, $path (${MODE})`, (lease) => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;

  beforeAll(async () => {
    await assertBuilt();
    const label = lease.waits ? 'refkilllive' : 'refkillexp';
    [stack, src] = await Promise.all([FaultStack.create(label), createSourcePg(label)]);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await src?.drop();
  }, 60_000);

  function startReader(schema: string, table: string) {
    const reader = new Client({ ...PG, user: 'postgres', database: src.name });
    let stop = false;
    const seen: number[] = [];
    const errors: string[] = [];
    const done = (async () => {
      await reader.connect();
      while (!stop) {
        try {
          const r = await reader.query<{ n: number }>(
            `select count(*)::int as n from "${schema}"."${table}"`,
          );
          seen.push(r.rows[0].n);
        } catch (e) {
          errors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      await reader.end();
      return { seen, errors };
    })();
    return { stop: () => ((stop = true), done) };
  }

  it('another replica completes the refresh once; no row stuck; reads never fail', async () => {
    const dbId = await stack.addDatabase({ name: 'kill source', dbName: src.name });
    const cardId = await stack.addCard(dbId, 'Slow orders', 'select id, amount from orders');
    const env = {
      REFRESHER_CONCURRENCY: '1',
      KAFKA_SESSION_TIMEOUT_MS: String(lease.sessionMs),
      REFRESH_LEASE_MS: String(lease.leaseMs),
    };
    const replicas: ServiceProcess[] = await Promise.all(
      ['a', 'b', 'c'].map((x) => stack.start('refresher', { ...env, INSTANCE_ID: `refresher-${x}` })),
    );
    await stack.start('history');

    const warm = await stack.request({ databaseId: dbId, trigger: 'manual' });
    expect(await stack.waitRun(warm.eventId, 90_000)).toMatchObject({ success: 1 });
    const [info] = await stack.rows('card_id = $1', [cardId]);
    const reader = startReader(info.schema_name, info.table_name);
    try {
      await stack.pg.query('update card set query_sql = $1 where id = $2', [
        slowSql(REFRESH_SECONDS),
        cardId,
      ]);
      const req = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
      const holder = await eventually(async () => {
        const [r] = await stack.rows('card_id = $1', [cardId]);
        return r.state === 'refreshing' && r.lease_owner ? r.lease_owner : null;
      }, 60_000);
      await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
      const victim = replicas.find((p) => instanceOf(p) === holder);
      expect(victim).toBeDefined();
      const killedAt = Date.now();
      await victim!.kill();

      const done = await stack.waitRun(req.eventId, (REFRESH_SECONDS + 110) * 1000);
      const recoveredInMs = Date.now() - killedAt;
      if (done.success !== 1)
        console.log(
          JSON.stringify(stack.events('RefreshFailed', req.eventId)),
          JSON.stringify(stack.events('RefreshRunStarted', req.eventId)),
          JSON.stringify(stack.events('RefreshRunCompleted', req.eventId)),
          holder,
          killedAt,
          JSON.stringify(await stack.rows()),
          replicas
            .map((p) =>
              p.logs
                .filter((l) => !/kafkajs/.test(l))
                .slice(-15)
                .join('\n'),
            )
            .join('\n----\n'),
        );
      expect(done).toMatchObject({ success: 1, error: 0 });
      // once: one success and one completion for the run, one task-history row
      await new Promise((r) => setTimeout(r, 2000));
      expect(stack.events('RefreshSucceeded', req.eventId)).toHaveLength(1);
      expect(stack.events('RefreshRunCompleted', req.eventId)).toHaveLength(1);
      const history = await eventually(async () => {
        const h = await stack.taskHistory('run_id = $1', [req.eventId]);
        return h.length === 1 && h[0].status === 'success' ? h : null;
        // the history projector's group may be rebalancing after the kill (a minute at most)
      }, 90_000);
      expect(history).toHaveLength(1);

      expect(await stack.rows(`state = 'refreshing'`)).toEqual([]);
      const [row] = await stack.rows('card_id = $1', [cardId]);
      expect(row).toMatchObject({
        state: 'persisted',
        active: true,
        lease_owner: null,
        last_run_id: req.eventId,
      });
      const leftovers = await src.client.query(
        `select table_name from information_schema.tables where table_schema = $1 and table_name <> $2`,
        [info.schema_name, info.table_name],
      );
      // the schema's own bookkeeping tables stay; no temporary or backup table of any build may
      const bookkeeping = ['cache_info', 'cache_fence'];
      expect(
        leftovers.rows.filter((r: { table_name: string }) => !bookkeeping.includes(r.table_name)),
      ).toEqual([]);
      const survivors = replicas.filter((p) => p !== victim);
      expect(survivors.every((p) => p.running)).toBe(true);
      // the lease path this variant is about is the one that ran
      const waited = survivors.some((p) => p.logs.some((l) => WAITED_FOR_LEASE.test(l)));
      expect(waited).toBe(lease.waits);

      const { seen, errors } = await reader.stop();
      expect(errors).toEqual([]);
      expect(seen.length).toBeGreaterThan(20);
      expect(new Set(seen)).toEqual(new Set([1000]));
      recordFigures(`1-refresher-killed-${lease.waits ? 'live-lease' : 'expired-lease'}`, {
        leasePath: lease.path,
        leaseMs: lease.leaseMs,
        sessionTimeoutMs: lease.sessionMs,
        load: `3 refresher replicas (1 consumer each) in one group; one ${REFRESH_SECONDS} s database run; a reader querying the cache table every 25 ms`,
        faultsInjected: `SIGKILL of the replica holding the lease (${holder}) ${KILL_AFTER_MS / 1000} s into the refresh`,
        completedAfterKillMs: recoveredInMs,
        runDurationMsReported: done.durationMs,
        successEvents: 1,
        runCompletedEvents: 1,
        taskHistoryRows: history.length,
        successorWaitedOutTheLease: waited,
        readerQueries: seen.length,
        readerErrors: errors.length,
        rowsLeftRefreshing: 0,
        leftoverTables: 0,
        lost: 'nothing',
      });
    } finally {
      await reader.stop().catch(() => undefined);
    }
  });
});

function instanceOf(p: ServiceProcess): string {
  const line = p.logs.find((l) => /started \(instance /.test(l)) ?? '';
  return /started \(instance ([^,)]+)/.exec(line)?.[1] ?? '?';
}
