import { createTestAppDatabase, TestAppDatabase } from '@model-persistence/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createAppDataSource, InboxRepository, RunCompletionRepository } from '../src/index';

/*
 * A run's completion row on a real PostgreSQL: won once, given back after a failed publish, and the end of an
 * individual run (completion mark + the request's inbox row) written together or not at all.
 */
describe('refresh_run_completion (real PostgreSQL)', () => {
  let db: TestAppDatabase;
  let ds: DataSource;
  let completions: RunCompletionRepository;
  let inbox: InboxRepository;

  beforeAll(async () => {
    db = await createTestAppDatabase('runcompl');
    ds = createAppDataSource({ url: db.url, poolSize: 2 });
    await ds.initialize();
    completions = new RunCompletionRepository(ds);
    inbox = new InboxRepository(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const published = async (runId: string) =>
    (
      await ds.query<{ p: boolean }[]>(
        'select published_at is not null as p from refresh_run_completion where run_id = $1',
        [runId],
      )
    )[0]?.p ?? null;

  it('marks the completion published and records the request in one statement; a later claim is refused', async () => {
    const runId = randomUUID();
    expect(await completions.claim(runId, 1, 'r1', 60_000)).toBe(true);
    expect(await completions.claim(runId, 1, 'r2', 60_000)).toBe(false); // another refresher: not before the takeover time
    expect(await inbox.has('refresher', runId)).toBe(false);
    await completions.markPublishedAndProcessed(runId, 'r1', { consumer: 'refresher', eventId: runId });
    expect(await published(runId)).toBe(true);
    expect(await inbox.has('refresher', runId)).toBe(true);
    // published: nobody completes it again, not even its winner
    expect(await completions.claim(runId, 1, 'r1', 60_000)).toBe(false);
    expect(await completions.claim(runId, 1, 'r2', 0)).toBe(false);
    // a repeat (the same request processed again) changes nothing and does not fail
    await completions.markPublishedAndProcessed(runId, 'r1', { consumer: 'refresher', eventId: runId });
    expect(await inbox.has('refresher', runId)).toBe(true);
  });

  it('writes neither when one of the two fails', async () => {
    const runId = randomUUID();
    expect(await completions.claim(runId, 1, 'r1', 60_000)).toBe(true);
    await expect(
      completions.markPublishedAndProcessed(runId, 'r1', { consumer: 'refresher', eventId: 'not-a-uuid' }),
    ).rejects.toThrow();
    expect(await published(runId)).toBe(false);
    // still this refresher's claim: its retry completes the run
    expect(await completions.claim(runId, 1, 'r1', 60_000)).toBe(true);
  });

  it('only the winner marks its completion; a released claim can be won by another refresher', async () => {
    const runId = randomUUID();
    expect(await completions.claim(runId, 1, 'r1', 60_000)).toBe(true);
    await completions.markPublishedAndProcessed(runId, 'r2', { consumer: 'refresher', eventId: runId });
    expect(await published(runId)).toBe(false);
    await completions.release(runId, 'r1');
    expect(await completions.claim(runId, 1, 'r2', 60_000)).toBe(true);
  });
});
