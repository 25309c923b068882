import { createTestAppDatabase, TestAppDatabase } from '@model-persistence/testing';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { createAppDataSource, PersistedInfoRepository, RunCompletionRepository } from '../src/index';

/*
 * The state machine's SQL guards on a real PostgreSQL: an illegal transition fails with a code and writes
 * nothing; an admin transition wins over a refresh in flight (its renewal and outcome write are refused);
 * every claim takes a newer generation.
 */
describe('persisted_info state transitions (real PostgreSQL)', () => {
  let db: TestAppDatabase;
  let ds: DataSource;
  let rows: PersistedInfoRepository;
  let dbId: number;
  let n = 0;

  beforeAll(async () => {
    db = await createTestAppDatabase('pistate');
    ds = createAppDataSource({ url: db.url, poolSize: 2 });
    await ds.initialize();
    rows = new PersistedInfoRepository(ds);
    const [d] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name, statement_timeout_ms, persist_models_enabled)
       values ('src', 'postgres', '127.0.0.1', 5432, 'x', 'postgres', 1000, true) returning id`,
    );
    dbId = d.id;
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  async function row(state: string): Promise<number> {
    n++;
    const [c] = await ds.query<{ id: number }[]>(
      `insert into card (name, database_id, query_sql, type) values ($1, $2, 'select 1', 'model') returning id`,
      [`m${n}`, dbId],
    );
    const info = await rows.create({
      databaseId: dbId,
      cardId: c.id,
      questionSlug: `m${n}`,
      schemaName: 's',
      tableName: `model_${c.id}`,
      state: state as 'persisted',
      active: state === 'persisted',
    });
    return info.id;
  }

  it('an illegal admin transition fails with ILLEGAL_STATE_TRANSITION and writes nothing', async () => {
    const id = await row('persisted');
    const failure = await rows.transition(id, 'persist').then(
      () => null,
      (e: unknown) => e,
    );
    expect(DomainError.is(failure, ErrorCode.IllegalStateTransition)).toBe(true);
    expect(await rows.findById(id)).toMatchObject({ state: 'persisted', active: true });
    await expect(rows.transition(99_999, 'unpersist')).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });

  it('unpersist during a refresh wins: renewal and outcome of the build are refused, the state stays off', async () => {
    const id = await row('persisted');
    const claim = await rows.claimForRefresh(id, 'r1', 30_000, '00000000-0000-4000-8000-000000000001', true);
    expect(claim).not.toBeNull();
    const lease = { id, owner: 'r1', generation: claim!.generation };
    await rows.transition(id, 'unpersist', { active: false });
    expect(await rows.renewLease(lease, 30_000)).toBe(false);
    expect(await rows.finishRefresh(lease, 'succeed', { active: true })).toBe(false);
    expect(await rows.releaseClaim(lease, claim!.before)).toBe(false);
    expect(await rows.findById(id)).toMatchObject({ state: 'off', active: false, leaseOwner: null });
    // and a refresh cannot take an off row
    expect(
      await rows.claimForRefresh(id, 'r1', 30_000, '00000000-0000-4000-8000-000000000002', true),
    ).toBeNull();
  });

  it('every claim takes a newer generation; the older build can no longer renew or finish', async () => {
    const id = await row('persisted');
    const run = '00000000-0000-4000-8000-000000000003';
    const first = await rows.claimForRefresh(id, 'r1', 1, run, true);
    await new Promise((r) => setTimeout(r, 20)); // the 1 ms lease expires: another refresher may take it
    const second = await rows.claimForRefresh(id, 'r2', 30_000, run, true);
    expect(second!.generation).toBeGreaterThan(first!.generation);
    const old = { id, owner: 'r1', generation: first!.generation };
    expect(await rows.renewLease(old, 30_000)).toBe(false);
    expect(await rows.finishRefresh(old, 'fail', { error: 'late' })).toBe(false);
    const mine = { id, owner: 'r2', generation: second!.generation };
    expect(await rows.finishRefresh(mine, 'succeed', { active: true })).toBe(true);
    const done = await rows.findById(id);
    expect(done).toMatchObject({ state: 'persisted', error: null });
    // the build's duration (claim to success) is kept for the scheduler's freshness top-ups
    expect(done!.lastBuildMs).toEqual(expect.any(Number));
    expect(done!.lastBuildMs).toBeGreaterThanOrEqual(0);
    expect(done!.lastBuildMs).toBeLessThan(60_000);
    // a row this run already finished is not claimed again by the same run
    expect(await rows.claimForRefresh(id, 'r3', 30_000, run, true)).toBeNull();
  });

  it('marking a model unchanged is refused once its card or its last build no longer has the checked definition', async () => {
    const mark = async (id: number, over: { buildHash?: string; sql?: string } = {}) => {
      const info = (await rows.findById(id))!;
      const [card] = await ds.query<{ query_sql: string }[]>('select query_sql from card where id = $1', [
        info.cardId,
      ]);
      return rows.markUnchanged(
        [
          {
            id,
            generation: Number(info.generation),
            signature: 'sig-1',
            buildHash: over.buildHash ?? 'hash-1',
            card: { sql: over.sql ?? card.query_sql, indexes: null, incremental: null, refreshKey: null },
          },
        ],
        new Date(),
      );
    };
    const id = await row('persisted');
    await ds.query(
      `update persisted_info set input_signature = 'sig-1', build_hash = 'hash-1', last_success_at = null where id = $1`,
      [id],
    );
    // the definition the check saw is the card's and the last build's: marked
    expect(await mark(id)).toEqual(new Set([id]));
    expect((await rows.findById(id))!.lastSuccessAt).not.toBeNull();
    // the check hashed another definition than the one last built
    expect(await mark(id, { buildHash: 'hash-2' })).toEqual(new Set());
    // the card was edited after the check read it (the caller still holds the old SQL)
    const before = await ds.query<{ query_sql: string }[]>(
      'select c.query_sql from card c join persisted_info p on p.card_id = c.id where p.id = $1',
      [id],
    );
    await ds.query(
      `update card set query_sql = 'select 2' where id = (select card_id from persisted_info where id = $1)`,
      [id],
    );
    expect(await mark(id, { sql: before[0].query_sql })).toEqual(new Set());
    // indexes added since the check: refused too
    await ds.query(
      `update card set query_sql = $2, indexes = '[{"columns":["x"]}]' where id = (select card_id from persisted_info where id = $1)`,
      [id, before[0].query_sql],
    );
    expect(await mark(id)).toEqual(new Set());
  });

  it('disabling a database (or globally) marks live rows deletable and clears their leases', async () => {
    const id = await row('persisted');
    await rows.claimForRefresh(id, 'r1', 30_000, '00000000-0000-4000-8000-000000000004', true);
    expect(await rows.markDeletable(dbId)).toBeGreaterThan(0);
    expect(await rows.findById(id)).toMatchObject({ state: 'deletable', leaseOwner: null, active: false });
  });

  it("an outcome write with the run's completion claim: the same guards, one transaction (both or neither)", async () => {
    const completions = new RunCompletionRepository(ds);
    const completed = (runId: string) =>
      ds.query<{ completed_by: string }[]>(
        'select completed_by from refresh_run_completion where run_id = $1',
        [runId],
      );
    const run = '00000000-0000-4000-8000-000000000021';
    const id = await row('persisted');
    const claim = await rows.claimForRefresh(id, 'r1', 30_000, run, true);
    const lease = { id, owner: 'r1', generation: claim!.generation };
    const claimOf = (runId: string, owner = 'r1') => ({
      runId,
      databaseId: dbId,
      owner,
      takeOverAfterMs: 60_000,
    });
    // the completion part fails (not a uuid): the outcome is not written either, the row stays leased
    await expect(
      rows.finishRefreshAndClaimCompletion(lease, 'succeed', { active: true }, claimOf('not-a-uuid')),
    ).rejects.toThrow();
    expect(await rows.findById(id)).toMatchObject({ state: 'refreshing', leaseOwner: 'r1' });
    // another refresher's live completion claim is not taken over; the outcome is written all the same
    expect(await completions.claim(run, dbId, 'r2', 60_000)).toBe(true);
    expect(
      await rows.finishRefreshAndClaimCompletion(lease, 'succeed', { active: true }, claimOf(run)),
    ).toEqual({
      finished: true,
      won: false,
    });
    expect(await completed(run)).toEqual([{ completed_by: 'r2' }]);
    expect(await rows.findById(id)).toMatchObject({ state: 'persisted', leaseOwner: null });
    // a lease that is no longer this build's (a newer generation): no outcome written; the claim is still won
    const run2 = '00000000-0000-4000-8000-000000000022';
    const older = await rows.claimForRefresh(id, 'r1', 30_000, run2, true);
    await rows.claimForRefresh(id, 'r1', 30_000, '00000000-0000-4000-8000-000000000023', true);
    expect(
      await rows.finishRefreshAndClaimCompletion(
        { id, owner: 'r1', generation: older!.generation },
        'fail',
        { active: false, error: 'x' },
        claimOf(run2),
      ),
    ).toEqual({ finished: false, won: true });
    expect(await rows.findById(id)).toMatchObject({ state: 'refreshing', error: null });
    expect(await completed(run2)).toEqual([{ completed_by: 'r1' }]);
  });

  it('a batched claim takes each row under the same guard as one claim, with its own generation', async () => {
    const run = '00000000-0000-4000-8000-000000000005';
    const free = await row('persisted');
    const fresh = await row('creating');
    const off = await row('off');
    const foreign = await row('persisted');
    const mine = await row('persisted');
    const done = await row('persisted');
    await rows.claimForRefresh(foreign, 'r2', 30_000, '00000000-0000-4000-8000-000000000006', true);
    const own = await rows.claimForRefresh(mine, 'r1', 30_000, '00000000-0000-4000-8000-000000000007', true);
    const earlier = await rows.claimForRefresh(done, 'r1', 30_000, run, true);
    await rows.finishRefresh({ id: done, owner: 'r1', generation: earlier!.generation }, 'succeed', {
      active: true,
    });
    const ids = [free, fresh, off, foreign, mine, done];
    const claims = await rows.claimAllForRefresh(
      ids.map((id) => ({ id, keepActive: id !== free })),
      'r1',
      30_000,
      run,
    );
    // off forbids a build, r2's live lease is r2's, `done` was finished by this very run: none is touched
    expect([...claims.keys()].sort((a, b) => a - b)).toEqual([free, fresh, mine]);
    expect(await rows.findById(off)).toMatchObject({ state: 'off', leaseOwner: null });
    expect(await rows.findById(foreign)).toMatchObject({ state: 'refreshing', leaseOwner: 'r2' });
    expect(await rows.findById(done)).toMatchObject({ state: 'persisted', leaseOwner: null });
    // each claimed row: refreshing under r1, this run, a generation of its own newer than any before
    const generations = [...claims.values()].map((c) => c.generation);
    expect(new Set(generations).size).toBe(3);
    expect(Math.min(...generations)).toBeGreaterThan(own!.generation);
    for (const [id, c] of claims) {
      expect(await rows.findById(id)).toMatchObject({
        state: 'refreshing',
        leaseOwner: 'r1',
        lastRunId: run,
        generation: c.generation,
      });
    }
    // the snapshot before, and keepActive per row (false: the old table stops being served)
    expect(claims.get(fresh)!.before).toMatchObject({ state: 'creating', active: false });
    expect(claims.get(free)!.before).toMatchObject({ state: 'persisted', active: true });
    expect(claims.get(free)!.after.active).toBe(false);
    expect(claims.get(mine)!.after.active).toBe(true);
    // an older generation of a row claimed again can no longer finish; the new one can, its build time given
    const stale = { id: mine, owner: 'r1', generation: own!.generation };
    expect(await rows.finishRefresh(stale, 'succeed', { active: true })).toBe(false);
    const current = { id: mine, owner: 'r1', generation: claims.get(mine)!.generation };
    expect(await rows.finishRefresh(current, 'succeed', { active: true, lastBuildMs: 1234 })).toBe(true);
    expect(await rows.findById(mine)).toMatchObject({ state: 'persisted', lastBuildMs: 1234 });
    // a claim given back restores the row exactly
    const back = { id: fresh, owner: 'r1', generation: claims.get(fresh)!.generation };
    expect(await rows.releaseClaim(back, claims.get(fresh)!.before)).toBe(true);
    expect(await rows.findById(fresh)).toMatchObject({ state: 'creating', leaseOwner: null });
  });
});
