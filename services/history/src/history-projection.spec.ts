import { randomUUID } from 'node:crypto';
import { createEvent } from '@model-persistence/contracts';
import type { TaskHistoryRow } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import fc from 'fast-check';
import {
  closeIfStale,
  isCompleted,
  MAX_PROGRESS_ERRORS,
  projectEvent,
  PRUNE_TASK,
  REFRESH_TASK,
  runKeyOf,
  validateHistoryEvent,
} from './history-projection';
import { HistoryEvent } from './history-topics';

const T0 = Date.parse('2026-11-29T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const HOUR = 3_600_000;

function refreshRun(runId = randomUUID(), databaseId = 7, cardId?: number) {
  const started = createEvent('RefreshRunStarted', {
    runId,
    databaseId,
    ...(cardId ? { cardId } : {}),
    trigger: 'scheduled',
    requestedBy: 'scheduler',
    startedAt: at(0),
    modelCount: 3,
    occurredAt: at(0),
  });
  const model = { runId, databaseId, trigger: 'scheduled' as const, attempts: 1 };
  const ok = createEvent('RefreshSucceeded', {
    ...model,
    cardId: cardId ?? 11,
    persistedInfoId: 1,
    startedAt: at(1),
    endedAt: at(2),
    durationMs: 1000,
    schemaName: 'mp_cache_x_7',
    tableName: 'model_11_a',
    rows: 5,
    occurredAt: at(2),
  });
  const failed = createEvent('RefreshFailed', {
    ...model,
    cardId: 12,
    persistedInfoId: 2,
    startedAt: at(2),
    endedAt: at(3),
    durationMs: 1000,
    outcome: 'error',
    errorClass: 'query',
    errorCode: 'SOURCE_QUERY',
    message: 'relation "nope" does not exist',
    occurredAt: at(3),
  });
  const skipped = createEvent('RefreshFailed', {
    ...model,
    cardId: 13,
    persistedInfoId: 3,
    startedAt: at(3),
    endedAt: at(4),
    durationMs: 1000,
    outcome: 'skipped',
    errorClass: 'lock',
    errorCode: 'SOURCE_LOCK',
    message: 'locked',
    occurredAt: at(4),
  });
  const completed = createEvent('RefreshRunCompleted', {
    runId,
    databaseId,
    ...(cardId ? { cardId } : {}),
    trigger: 'scheduled',
    startedAt: at(0),
    endedAt: at(5),
    durationMs: 5000,
    success: 1,
    error: 1,
    skipped: 1,
    errorDetails: [{ persistedInfoId: 2, cardId: 12, error: 'relation "nope" does not exist' }],
    occurredAt: at(5),
  });
  return { runId, started, ok, failed, skipped, completed };
}

function fold(events: HistoryEvent[], now = new Date(T0 + 60_000), timeout = 2 * HOUR): TaskHistoryRow {
  let row: TaskHistoryRow | null = null;
  for (const e of events) row = closeIfStale(projectEvent(row, e), now, timeout);
  return row!;
}

describe('history projection', () => {
  it('builds one persist-refresh row per database run with Metabase-style task_details', () => {
    const r = refreshRun();
    const row = fold([r.started, r.ok, r.failed, r.skipped, r.completed]);
    expect(row).toEqual({
      task: REFRESH_TASK,
      runId: r.runId,
      dbId: 7,
      startedAt: new Date(at(0)),
      endedAt: new Date(at(5)),
      duration: 5000,
      status: 'failed',
      lastEventAt: new Date(at(5)),
      taskDetails: {
        success: 1,
        error: 1,
        skipped: 1,
        trigger: 'scheduled',
        'model-count': 3,
        'requested-by': 'scheduler',
        'error-details': [{ 'persisted-info-id': 2, 'card-id': 12, error: 'relation "nope" does not exist' }],
      },
    });
    expect(isCompleted(row)).toBe(true);
  });

  it('a run without errors is a success, skipped models included', () => {
    const r = refreshRun();
    const completed = { ...r.completed, error: 0, success: 2, errorDetails: [] };
    expect(fold([r.started, completed]).status).toBe('success');
  });

  it('an individual refresh row carries the card id and trigger', () => {
    const r = refreshRun(randomUUID(), 7, 11);
    const row = fold([
      r.started,
      r.ok,
      { ...r.completed, success: 1, error: 0, skipped: 0, errorDetails: [] },
    ]);
    expect(row.taskDetails).toMatchObject({ 'card-id': 11, trigger: 'scheduled', success: 1, error: 0 });
    expect(row.status).toBe('success');
  });

  it('counts progress from model events while the run is open', () => {
    const r = refreshRun();
    const row = fold([r.failed, r.started, r.ok]);
    expect(row.status).toBe('started');
    expect(row.endedAt).toBeNull();
    expect(row.taskDetails).toMatchObject({
      success: 1,
      error: 1,
      skipped: 0,
      'error-details': [{ 'persisted-info-id': 2, 'card-id': 12, error: 'relation "nope" does not exist' }],
    });
    expect(row.startedAt).toEqual(new Date(at(0)));
  });

  it('never moves a completed run back: a late Started or model event keeps the final row', () => {
    const r = refreshRun();
    const final = fold([r.completed]);
    const late = fold([r.completed, r.started, r.ok, r.failed]);
    expect(late.status).toBe('failed');
    expect(late.endedAt).toEqual(final.endedAt);
    expect(late.taskDetails).toMatchObject({ success: 1, error: 1, skipped: 1 });
  });

  it('gives the same row for every arrival order and duplicate-free subset order (property)', () => {
    const r = refreshRun();
    const all = [r.started, r.ok, r.failed, r.skipped, r.completed];
    const expected = fold(all);
    fc.assert(
      fc.property(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), (order) => {
        expect(fold(order)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
    // without the completion, the open row is order-independent too
    const open = [r.started, r.ok, r.failed, r.skipped];
    const expectedOpen = fold(open);
    fc.assert(
      fc.property(fc.shuffledSubarray(open, { minLength: open.length, maxLength: open.length }), (order) => {
        expect(fold(order)).toEqual(expectedOpen);
      }),
      { numRuns: 100 },
    );
  });

  it('of two completions of one run, the later end wins whatever the order', () => {
    const r = refreshRun();
    const rerun = createEvent('RefreshRunCompleted', {
      ...r.completed,
      eventId: randomUUID(),
      endedAt: at(50),
      durationMs: 50_000,
      success: 3,
      error: 0,
      skipped: 0,
      errorDetails: [],
      occurredAt: at(50),
    });
    expect(fold([r.completed, rerun])).toEqual(fold([rerun, r.completed]));
    expect(fold([r.completed, rerun]).status).toBe('success');
  });

  it('a request re-run after a refresher crash keeps the first start; duration spans start to end', () => {
    const r = refreshRun();
    const restarted = createEvent('RefreshRunStarted', {
      ...r.started,
      eventId: randomUUID(),
      startedAt: at(600),
      occurredAt: at(600),
    });
    const completed = createEvent('RefreshRunCompleted', {
      ...r.completed,
      startedAt: at(600),
      endedAt: at(610),
      durationMs: 10_000,
      occurredAt: at(610),
    });
    const events = [r.started, r.ok, restarted, completed];
    const row = fold(events);
    expect(row).toMatchObject({ startedAt: new Date(at(0)), endedAt: new Date(at(610)), duration: 610_000 });
    expect(fold([...events].reverse())).toEqual(row);
  });

  it('builds unpersist-tables rows from prune runs', () => {
    const runId = randomUUID();
    const started = createEvent('PruneRunStarted', {
      runId,
      trigger: 'disable',
      startedAt: at(0),
      candidateCount: 4,
      occurredAt: at(0),
    });
    const completed = createEvent('PruneRunCompleted', {
      runId,
      trigger: 'disable',
      startedAt: at(0),
      endedAt: at(2),
      durationMs: 2000,
      success: 3,
      error: 0,
      skipped: 1,
      occurredAt: at(2),
    });
    expect(runKeyOf(started)).toEqual({ task: PRUNE_TASK, runId });
    const row = fold([completed, started]);
    expect(row).toMatchObject({
      task: PRUNE_TASK,
      dbId: null,
      status: 'success',
      duration: 2000,
      taskDetails: { success: 3, error: 0, skipped: 1, trigger: 'disable', 'candidate-count': 4 },
    });
    expect(fold([started, { ...completed, error: 1 }]).status).toBe('failed');
  });

  describe('stale runs', () => {
    it('closes an open run whose last event is older than the timeout, ended at its last sign of life', () => {
      const r = refreshRun();
      const open = fold([r.started, r.ok]);
      expect(closeIfStale(open, new Date(T0 + 2 * HOUR), 2 * HOUR)).toBe(open); // exactly at the limit: open
      const closed = closeIfStale(open, new Date(T0 + 3 * HOUR), 2 * HOUR);
      expect(closed).toMatchObject({ status: 'failed', endedAt: new Date(at(2)), duration: 2000 });
      expect(closed.taskDetails).toMatchObject({ stale: true, success: 1 });
      expect(closed.taskDetails!.reason).toMatch(
        /no RefreshRunCompleted and no other event for this run since 2026-11-29T10:00:02.000Z \(stale-run timeout 7200000 ms\); the refresher probably stopped/,
      );
      expect(isCompleted(closed)).toBe(false);
    });

    it('lets a later completion replace the stale close', () => {
      const r = refreshRun();
      const closed = closeIfStale(fold([r.started]), new Date(T0 + 3 * HOUR), 2 * HOUR);
      const row = projectEvent(closed, r.completed);
      expect(row.status).toBe('failed');
      expect(row.endedAt).toEqual(new Date(at(5)));
      expect(row.taskDetails).not.toHaveProperty('stale');
      expect(row.taskDetails).not.toHaveProperty('reason');
      expect(isCompleted(row)).toBe(true);
    });

    it('reopens a stale-closed run on a fresh sign of life, and keeps it closed on an old one', () => {
      const r = refreshRun();
      const closed = closeIfStale(fold([r.started]), new Date(T0 + 3 * HOUR), 2 * HOUR);
      const fresh = createEvent('RefreshSucceeded', {
        ...r.ok,
        eventId: randomUUID(),
        occurredAt: at(3 * 3600),
      });
      const reopened = closeIfStale(projectEvent(closed, fresh), new Date(T0 + 3 * HOUR), 2 * HOUR);
      expect(reopened.status).toBe('started');
      expect(reopened.taskDetails).not.toHaveProperty('stale');
      const old = closeIfStale(projectEvent(closed, r.ok), new Date(T0 + 3 * HOUR), 2 * HOUR);
      expect(old.status).toBe('failed');
      expect(old.endedAt).toEqual(new Date(at(2)));
      expect(old).toEqual(fold([r.started, r.ok], new Date(T0 + 3 * HOUR)));
    });

    it('closes prune runs with a prune-specific reason', () => {
      const started = createEvent('PruneRunStarted', {
        runId: randomUUID(),
        trigger: 'scheduled',
        startedAt: at(0),
        candidateCount: 1,
        occurredAt: at(0),
      });
      const closed = fold([started], new Date(T0 + 3 * HOUR));
      expect(closed.status).toBe('failed');
      expect(closed.taskDetails!.reason).toMatch(/no PruneRunCompleted/);
    });
  });

  describe('bad events', () => {
    it('rejects an event of another database for a known run', () => {
      const r = refreshRun();
      const other = { ...r.completed, databaseId: 8 };
      expect(() => projectEvent(fold([r.started]), other)).toThrow(DomainError);
      try {
        projectEvent(fold([r.started]), other);
      } catch (e) {
        expect((e as DomainError).code).toBe(ErrorCode.ValidationFailed);
        expect((e as Error).message).toMatch(/belongs to database 7, the event says 8/);
      }
    });

    it('rejects an end before the start', () => {
      const r = refreshRun();
      expect(() => validateHistoryEvent({ ...r.completed, endedAt: at(-10) })).toThrow(/is before startedAt/);
      expect(() => validateHistoryEvent(r.completed)).not.toThrow();
      expect(() => validateHistoryEvent(r.started)).not.toThrow();
    });

    it('bounds the error details of an open run, keeping the same ones whatever the order', () => {
      const r = refreshRun();
      const failures = Array.from({ length: MAX_PROGRESS_ERRORS + 20 }, (_, i) =>
        createEvent('RefreshFailed', { ...r.failed, eventId: randomUUID(), cardId: 1000 + i }),
      );
      const row = fold([r.started, ...failures]);
      expect(row.taskDetails!.error).toBe(MAX_PROGRESS_ERRORS + 20);
      expect(row.taskDetails!['error-details']).toHaveLength(MAX_PROGRESS_ERRORS);
      expect(fold([...[...failures].reverse(), r.started])).toEqual(row);
    });

    it('clamps absurd durations to the column range', () => {
      const r = refreshRun();
      const ended = new Date(T0 + 10 ** 12).toISOString();
      expect(fold([{ ...r.completed, endedAt: ended }]).duration).toBe(2_147_483_647);
    });
  });
});

describe('history projection: build facts of incremental and indexed models', () => {
  it('records mode, merged rows, checkpoint and index time per model, whatever the order', () => {
    const r = refreshRun();
    const incremental = createEvent('RefreshSucceeded', {
      ...r.ok,
      eventId: randomUUID(),
      mode: 'incremental',
      rowsInserted: 4,
      rowsUpdated: 2,
      checkpoint: '2026-11-29 10:00:00+00',
      queryMs: 40,
      indexMs: 0,
    });
    const expected = {
      '11': {
        mode: 'incremental',
        'rows-inserted': 4,
        'rows-updated': 2,
        checkpoint: '2026-11-29 10:00:00+00',
        'query-ms': 40,
        'index-ms': 0,
        'ended-at': at(2),
      },
    };
    expect(fold([r.started, incremental, r.completed]).taskDetails?.models).toEqual(expected);
    expect(fold([r.completed, incremental, r.started]).taskDetails?.models).toEqual(expected);
    // a success without build facts (a re-announcement) adds nothing
    expect(fold([r.started, r.ok, r.completed]).taskDetails?.models).toBeUndefined();
  });
});

describe('history projection: models not built because of an upstream model', () => {
  it('records an UPSTREAM_FAILED skip with the upstream model, whatever the order', () => {
    const r = refreshRun();
    const skipped = createEvent('RefreshFailed', {
      ...r.failed,
      eventId: randomUUID(),
      cardId: 13,
      outcome: 'skipped',
      errorCode: 'UPSTREAM_FAILED',
      message: 'model 13 was not built: model 12, which it reads ({{#12}}), did not refresh in this run',
      upstreamCardId: 12,
    });
    const expected = {
      '13': { skipped: 'upstream_failed', 'upstream-card-id': 12, 'ended-at': skipped.endedAt },
    };
    expect(fold([r.started, r.failed, skipped]).taskDetails?.models).toEqual(expected);
    expect(fold([skipped, r.failed, r.started]).taskDetails?.models).toEqual(expected);
    expect(fold([r.started, skipped]).taskDetails?.skipped).toBe(1);
    // a skip for another reason (a lock) is counted only
    const locked = createEvent('RefreshFailed', {
      ...r.failed,
      eventId: randomUUID(),
      cardId: 14,
      outcome: 'skipped',
    });
    expect(fold([r.started, locked]).taskDetails?.models).toBeUndefined();
  });
});

describe('history projection: models verified unchanged (change detection)', () => {
  it('records an unchanged model and the run’s unchanged count, whatever the order', () => {
    const r = refreshRun();
    const unchanged = createEvent('RefreshSucceeded', {
      ...r.ok,
      eventId: randomUUID(),
      cardId: 15,
      rows: null,
      outcome: 'unchanged',
    });
    const completed = createEvent('RefreshRunCompleted', { ...r.completed, unchanged: 1 });
    const expected = { '15': { outcome: 'unchanged', 'ended-at': unchanged.endedAt } };
    expect(fold([r.started, unchanged, completed]).taskDetails?.models).toEqual(expected);
    expect(fold([completed, unchanged, r.started]).taskDetails?.models).toEqual(expected);
    expect(fold([r.started, unchanged]).taskDetails?.unchanged).toBe(1);
    expect(fold([r.started, unchanged, completed]).taskDetails?.unchanged).toBe(1);
  });
});
