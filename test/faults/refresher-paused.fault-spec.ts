import { eventually } from '@model-persistence/testing';
import { assertBuilt, createSourcePg, FaultStack, MODE, recordFigures, size } from './support/stack';

/*
 * Scenario — a refresher replica is paused (SIGSTOP) in the middle of a long refresh, past its lease, while
 * another replica of the group takes the redelivered run over and swaps a newer result in; then it resumes
 * (SIGCONT) with its old build finished on the server. Fencing: the old build must not swap (the newer
 * result stays), must not drop the other build's table, and the run reports one success and one completion.
 */
const OLD_BUILD_SECONDS = size(8, 30);
jest.setTimeout((OLD_BUILD_SECONDS * 3 + 120) * 1000);

const oldSql = (seconds: number) =>
  `select o.id, 1 as v from orders o, (select 1 as z from pg_sleep(${seconds})) s`;
const newSql = 'select o.id, 2 as v from orders o';
// read through jsonb, so the scenario runs (and fails where it should) on a schema without the column too
const GENERATION = `select (to_jsonb(p) ->> 'generation')::int as generation from persisted_info p where id = $1`;

describe(`fault: refresher paused past its lease while another takes over (${MODE})`, () => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;

  beforeAll(async () => {
    await assertBuilt();
    [stack, src] = await Promise.all([FaultStack.create('refpause'), createSourcePg('refpause')]);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await src?.drop();
  }, 60_000);

  it('the newer result stays, no table of the other build is dropped, one success is reported', async () => {
    const dbId = await stack.addDatabase({ name: 'pause source', dbName: src.name });
    const cardId = await stack.addCard(dbId, 'Paused orders', 'select id, 0 as v from orders');
    const env = { REFRESHER_CONCURRENCY: '1', KAFKA_SESSION_TIMEOUT_MS: '6000', REFRESH_LEASE_MS: '3000' };
    const replicas = await Promise.all(
      ['refresher-a', 'refresher-b'].map((id) => stack.start('refresher', { ...env, INSTANCE_ID: id })),
    );
    const warm = await stack.request({ databaseId: dbId, cardId, trigger: 'manual' });
    expect(await stack.waitRun(warm.eventId, 90_000)).toMatchObject({ success: 1 });
    const [info] = await stack.rows('card_id = $1', [cardId]);
    const cache = `"${info.schema_name}"."${info.table_name}"`;
    const oldBuildRunning = async () =>
      (
        await src.client.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where state = 'active' and pid <> pg_backend_pid() and query like '%pg_sleep(${OLD_BUILD_SECONDS})%'`,
        )
      ).rows[0].n > 0;

    await stack.pg.query('update card set query_sql = $1 where id = $2', [oldSql(OLD_BUILD_SECONDS), cardId]);
    const req = await stack.request({ databaseId: dbId, cardId, trigger: 'manual' });
    const holder = await eventually(async () => {
      const [r] = await stack.rows('card_id = $1', [cardId]);
      return r.state === 'refreshing' && r.lease_owner && (await oldBuildRunning()) ? r.lease_owner : null;
    }, 60_000);
    // `a` holds the partition and builds; `b` is the replica that takes over
    const a = replicas[holder === 'refresher-a' ? 0 : 1];
    const b = replicas[holder === 'refresher-a' ? 1 : 0];
    const { generation: oldGeneration } = (
      await stack.pg.query<{ generation: number }>(GENERATION, [info.id])
    ).rows[0];

    process.kill(a.pid!, 'SIGSTOP');
    const pausedAt = Date.now();
    let resumedAt = 0;
    try {
      // the model changes meanwhile: the takeover builds the newer SQL
      await stack.pg.query('update card set query_sql = $1 where id = $2', [newSql, cardId]);
      // `a` misses its heartbeats: `b` gets the partition, waits out the lease and completes the run
      const done = await stack.waitRun(req.eventId, 90_000);
      expect(done).toMatchObject({ success: 1, error: 0 });
      const [taken] = await stack.rows('card_id = $1', [cardId]);
      expect(taken).toMatchObject({ state: 'persisted', lease_owner: null });
      expect(await values(cache)).toEqual([2]);
      // the paused build finished on the server meanwhile: it is ready to swap when `a` resumes
      await eventually(async () => !(await oldBuildRunning()), (OLD_BUILD_SECONDS + 30) * 1000);
    } finally {
      process.kill(a.pid!, 'SIGCONT');
      resumedAt = Date.now();
    }

    // `a` notices it lost the row (lease not renewed for a lease period; a newer generation in the fence)
    await a.waitForLog(/refresh generation \d+ stopped|superseded|no longer this build/, 60_000);
    await new Promise((r) => setTimeout(r, 3000));

    expect(await values(cache)).toEqual([2]);
    expect(await src.client.query(`select count(*)::int as n from ${cache}`)).toMatchObject({
      rows: [{ n: 1000 }],
    });
    const leftovers = await src.client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = $1 and table_name like 'mp\\_%'`,
      [info.schema_name],
    );
    expect(leftovers.rows).toEqual([]);
    expect(stack.events('RefreshSucceeded', req.eventId)).toHaveLength(1);
    expect(stack.events('RefreshSucceeded', req.eventId)[0]).toMatchObject({ cardId });
    expect(stack.events('RefreshRunCompleted', req.eventId)).toHaveLength(1);
    const [row] = await stack.rows('card_id = $1', [cardId]);
    expect(row).toMatchObject({ state: 'persisted', active: true, lease_owner: null });
    const { generation } = (await stack.pg.query<{ generation: number }>(GENERATION, [info.id])).rows[0];
    expect(generation).toBeGreaterThan(oldGeneration);
    expect(a.running && b.running).toBe(true);

    recordFigures('8-refresher-paused', {
      load: `2 refresher replicas in one group (lease 3 s, session timeout 6 s); one model whose old build runs ${OLD_BUILD_SECONDS} s`,
      faultsInjected: `SIGSTOP of the replica building the model (${holder}), SIGCONT ${Math.round((resumedAt - pausedAt) / 1000)} s later, after the other replica swapped a newer result in`,
      oldGeneration,
      newGeneration: generation,
      newerResultKept: true,
      successEvents: 1,
      runCompletedEvents: 1,
      leftoverTables: 0,
      processesAlive: 2,
      lost: 'nothing',
    });
  });

  async function values(cache: string): Promise<number[]> {
    const r = await src.client.query<{ v: number }>(`select distinct v from ${cache} order by v`);
    return r.rows.map((x) => Number(x.v));
  }
});
