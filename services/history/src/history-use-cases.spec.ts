import { randomUUID } from 'node:crypto';
import { createEvent } from '@model-persistence/contracts';
import type {
  ApplyOutcome,
  TaskHistoryChange,
  TaskHistoryRepository,
  TaskHistoryRow,
} from '@model-persistence/database';
import { ApplyHistoryEventUseCase } from './apply-history-event.use-case';
import { loadHistoryConfig } from './config';
import { HistoryOptions } from './history-options';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';

/** In-memory stand-in for the repository's transactional contract (inbox + row per run). */
class FakeHistory {
  readonly rows = new Map<string, TaskHistoryRow>();
  readonly inbox = new Set<string>();

  async applyOnce(
    consumer: string,
    eventId: string,
    task: string,
    runId: string,
    change: TaskHistoryChange,
  ): Promise<ApplyOutcome> {
    if (this.inbox.has(`${consumer}:${eventId}`)) return 'duplicate';
    const outcome = await this.changeRun(task, runId, change); // throws before the inbox record: rolled back
    this.inbox.add(`${consumer}:${eventId}`);
    return outcome;
  }

  async changeRun(task: string, runId: string, change: TaskHistoryChange): Promise<ApplyOutcome> {
    const next = change(this.rows.get(`${task}:${runId}`) ?? null);
    if (!next) return 'unchanged';
    this.rows.set(`${task}:${runId}`, next);
    return 'applied';
  }

  async findStale(before: Date, limit: number) {
    return [...this.rows.values()]
      .filter((r) => r.status === 'started' && (r.lastEventAt ?? r.startedAt) < before)
      .slice(0, limit)
      .map((r) => ({ task: r.task, runId: r.runId }));
  }
}

const T0 = Date.parse('2026-11-29T10:00:00.000Z');

function setup(nowMs = T0) {
  const fake = new FakeHistory();
  let now = nowMs;
  const options: HistoryOptions = {
    consumer: 'history-projector',
    staleRunTimeoutMs: 60_000,
    sweepIntervalMs: 1000,
    keep: 100,
    trimIntervalMs: 1000,
    now: () => new Date(now),
  };
  const repo = fake as unknown as TaskHistoryRepository;
  return {
    fake,
    apply: new ApplyHistoryEventUseCase(repo, { projector: options }),
    sweep: new SweepStaleRunsUseCase(repo, { projector: options }),
    setNow: (ms: number) => (now = ms),
  };
}

const started = (runId: string = randomUUID(), atMs = T0) =>
  createEvent('RefreshRunStarted', {
    runId,
    databaseId: 3,
    trigger: 'scheduled',
    startedAt: new Date(atMs).toISOString(),
    occurredAt: new Date(atMs).toISOString(),
    modelCount: 1,
  });

describe('ApplyHistoryEventUseCase', () => {
  it('applies an event once and reports a duplicate', async () => {
    const { apply, fake } = setup();
    const e = started();
    expect(await apply.execute(e)).toBe('applied');
    expect(await apply.execute(e)).toBe('duplicate');
    expect(fake.rows.size).toBe(1);
  });

  it('rejects an inconsistent event without recording it in the inbox', async () => {
    const { apply, fake } = setup();
    const e = started();
    await apply.execute(e);
    const bad = { ...started(e.runId), databaseId: 4 };
    await expect(apply.execute(bad)).rejects.toThrow(/belongs to database 3/);
    expect(fake.inbox.has(`history-projector:${bad.eventId}`)).toBe(false);
  });

  it('closes at once a run whose only event is older than the timeout', async () => {
    const { apply, fake } = setup(T0 + 10 * 60_000);
    await apply.execute(started());
    expect([...fake.rows.values()][0]).toMatchObject({ status: 'failed', taskDetails: { stale: true } });
  });
});

describe('SweepStaleRunsUseCase', () => {
  it('closes only runs silent for longer than the timeout, and is idempotent', async () => {
    const { apply, sweep, fake, setNow } = setup();
    const old = started();
    await apply.execute(old);
    setNow(T0 + 30_000);
    const recent = started(randomUUID(), T0 + 30_000);
    await apply.execute(recent);
    setNow(T0 + 61_000);
    expect(await sweep.execute()).toBe(1);
    expect(fake.rows.get(`persist-refresh:${old.runId}`)!.status).toBe('failed');
    expect(fake.rows.get(`persist-refresh:${recent.runId}`)!.status).toBe('started');
    expect(await sweep.execute()).toBe(0);
    expect(await sweep.execute(new Date(T0 + 200_000))).toBe(1);
  });

  it('terminates when candidates cannot be closed', async () => {
    const { sweep, fake } = setup();
    // a candidate the query returns but the rule keeps open (e.g. an event arrived meanwhile)
    fake.findStale = async () => [{ task: 'persist-refresh', runId: randomUUID() }];
    expect(await sweep.execute()).toBe(0);
  });
});

describe('history config', () => {
  it('defaults the stale-run timeout to 2 h and validates the variables', () => {
    const c = loadHistoryConfig({});
    expect(c.consumerGroup).toBe('history-projector');
    expect(c.history).toEqual({ concurrency: 3 });
    expect(c.projector).toEqual({
      consumer: 'history-projector',
      staleRunTimeoutMs: 7_200_000,
      sweepIntervalMs: 60_000,
      keep: 100_000,
      trimIntervalMs: 3_600_000,
    });
    expect(c.inboxPurge).toEqual({
      consumer: 'history-projector',
      retentionMs: 7 * 24 * 3_600_000,
      intervalMs: 3_600_000,
    });
    expect(loadHistoryConfig({ HISTORY_STALE_RUN_TIMEOUT_MS: '5000' }).projector.staleRunTimeoutMs).toBe(
      5000,
    );
    expect(() => loadHistoryConfig({ HISTORY_STALE_RUN_TIMEOUT_MS: '10' })).toThrow(
      /HISTORY_STALE_RUN_TIMEOUT_MS \("10"\)/,
    );
  });
});
