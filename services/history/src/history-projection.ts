import type { TaskHistoryRow } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { HistoryEvent } from './history-topics';

/*
 * The projection of run events onto task_history rows. A row is a pure function of the SET of events of its
 * run (plus the stale-run rule), whatever their arrival order across topics, so replaying the topics gives the
 * live table back row for row:
 * - started_at is the earliest start seen, last_event_at the newest event time;
 * - a Completed event is final: it sets status, end and the counts, and nothing moves it back;
 * - duration = ended_at - started_at (ms);
 * - before completion, the per-model events count progress (success / error / skipped, error details);
 * - a run closed by the stale-run sweep is NOT final: any later event reopens it, a Completed replaces it.
 */

export const REFRESH_TASK = 'persist-refresh';
export const PRUNE_TASK = 'unpersist-tables';

const MAX_DURATION_MS = 2_147_483_647; // task_history.duration is an int
/** Error details kept while a run is open (the completion brings the full list). */
export const MAX_PROGRESS_ERRORS = 1000;

type Details = Record<string, unknown>;

export interface ErrorDetail {
  'persisted-info-id': number | null;
  'card-id': number;
  error: string;
}

export function runKeyOf(event: HistoryEvent): { task: string; runId: string } {
  const task =
    event.type === 'PruneRunStarted' || event.type === 'PruneRunCompleted' ? PRUNE_TASK : REFRESH_TASK;
  return { task, runId: event.runId };
}

function dbIdOf(event: HistoryEvent): number | null {
  return 'databaseId' in event ? event.databaseId : null;
}

const time = (iso: string) => new Date(iso);

function clampDuration(ms: number): number {
  return Math.min(MAX_DURATION_MS, Math.max(0, Math.round(ms)));
}

/** Rejects events that are well-formed but cannot describe a real run (dead-lettered with the reason). */
export function validateHistoryEvent(event: HistoryEvent): void {
  if ('endedAt' in event && time(event.endedAt).getTime() < time(event.startedAt).getTime()) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `${event.type} ${event.eventId}: endedAt ${event.endedAt} is before startedAt ${event.startedAt}`,
    );
  }
}

/** Finished by a completion event (final), as opposed to still open or closed by the stale-run sweep. */
export function isCompleted(row: TaskHistoryRow): boolean {
  return row.status !== 'started' && row.taskDetails?.stale !== true;
}

function compareErrorDetails(a: ErrorDetail, b: ErrorDetail): number {
  return (
    a['card-id'] - b['card-id'] ||
    (a['persisted-info-id'] ?? 0) - (b['persisted-info-id'] ?? 0) ||
    (a.error < b.error ? -1 : a.error > b.error ? 1 : 0)
  );
}

function emptyRow(event: HistoryEvent): TaskHistoryRow {
  const { task, runId } = runKeyOf(event);
  return {
    task,
    runId,
    dbId: dbIdOf(event),
    startedAt: time(event.startedAt),
    endedAt: null,
    duration: null,
    status: 'started',
    taskDetails: {},
    lastEventAt: null,
  };
}

/** The row of the event's run after applying the event to `current` (null: no row yet). Never mutates. */
export function projectEvent(current: TaskHistoryRow | null, event: HistoryEvent): TaskHistoryRow {
  const row = applyEvent(current, event);
  // the duration spans the row's own start and end: a request re-run after a refresher crash keeps the
  // first start, and the result does not depend on which of the run's events came first
  return row.endedAt === null
    ? row
    : { ...row, duration: clampDuration(row.endedAt.getTime() - row.startedAt.getTime()) };
}

function applyEvent(current: TaskHistoryRow | null, event: HistoryEvent): TaskHistoryRow {
  const { task, runId } = runKeyOf(event);
  if (current && (current.task !== task || current.runId !== runId)) {
    throw new Error(`projectEvent: row ${current.task}/${current.runId} is not the run of ${event.type}`);
  }
  if (current && current.dbId !== dbIdOf(event)) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `${event.type} ${event.eventId}: run ${runId} belongs to database ${current.dbId}, the event says ${dbIdOf(event)}`,
    );
  }
  const base = current ?? emptyRow(event);
  const completed = current !== null && isCompleted(current);
  const details: Details = { ...(base.taskDetails ?? {}) };
  let row: TaskHistoryRow = {
    ...base,
    startedAt: new Date(Math.min(base.startedAt.getTime(), time(event.startedAt).getTime())),
    lastEventAt: new Date(Math.max(base.lastEventAt?.getTime() ?? 0, time(event.occurredAt).getTime())),
    taskDetails: details,
  };
  if (!completed && row.status !== 'started') {
    // closed by the stale-run sweep, and here is a sign of life: open again (the sweep re-checks it)
    row = { ...row, status: 'started', endedAt: null, duration: null };
    delete details.stale;
    delete details.reason;
  }

  switch (event.type) {
    case 'RefreshRunStarted':
      details.trigger = event.trigger;
      details['model-count'] = event.modelCount;
      if (event.cardId !== undefined) details['card-id'] = event.cardId;
      if (event.requestedBy !== undefined) details['requested-by'] = event.requestedBy;
      return row;
    case 'PruneRunStarted':
      details.trigger = event.trigger;
      details['candidate-count'] = event.candidateCount;
      return row;
    case 'RefreshRunCompleted':
    case 'PruneRunCompleted': {
      // two completions of one run (a redelivered request re-run): the later end wins, whatever the order
      if (completed && (base.endedAt?.getTime() ?? 0) >= time(event.endedAt).getTime()) return row;
      delete details.stale;
      delete details.reason;
      details.success = event.success;
      details.error = event.error;
      details.skipped = event.skipped;
      details.trigger = event.trigger;
      if (event.type === 'RefreshRunCompleted') {
        if (event.cardId !== undefined) details['card-id'] = event.cardId;
        // of the successes, the models verified unchanged (change detection): not built
        if (event.unchanged !== undefined) details.unchanged = event.unchanged;
        else delete details.unchanged;
        details['error-details'] = event.errorDetails.map((d): ErrorDetail => ({
          'persisted-info-id': d.persistedInfoId,
          'card-id': d.cardId,
          error: d.error,
        }));
      }
      return {
        ...row,
        status: event.error > 0 ? 'failed' : 'success',
        endedAt: time(event.endedAt),
      };
    }
    case 'RefreshSucceeded':
    case 'RefreshFailed': {
      // the trigger of the run events is authoritative; a model event only fills it in
      details.trigger ??= event.trigger;
      if (event.type === 'RefreshSucceeded') recordModelResult(details, event);
      else if (event.upstreamCardId !== undefined) recordUpstreamSkip(details, event);
      if (completed) return row; // the completion's counts are final
      const outcome = event.type === 'RefreshSucceeded' ? 'success' : event.outcome;
      const count = (key: string) => {
        const n = details[key];
        return typeof n === 'number' ? n : 0;
      };
      details.success = count('success');
      details.error = count('error');
      details.skipped = count('skipped');
      details[outcome] = count(outcome) + 1;
      if (event.type === 'RefreshSucceeded' && event.outcome === 'unchanged')
        details.unchanged = count('unchanged') + 1;
      const errors = [...((details['error-details'] as ErrorDetail[] | undefined) ?? [])];
      if (event.type === 'RefreshFailed' && event.outcome === 'error') {
        errors.push({
          'persisted-info-id': event.persistedInfoId,
          'card-id': event.cardId,
          error: event.message,
        });
        errors.sort(compareErrorDetails);
        // bounded, and still order-independent: the first N by sort order of all errors seen
        errors.splice(MAX_PROGRESS_ERRORS);
      }
      details['error-details'] = errors;
      return row;
    }
  }
}

/** How one model was built in a run (task_details.models, by card id). */
export interface ModelResult {
  mode?: 'full' | 'incremental';
  'full-reason'?: string;
  'rows-inserted'?: number;
  'rows-updated'?: number;
  checkpoint?: string | null;
  'query-ms'?: number;
  'index-ms'?: number;
  /** Not built: its inputs were verified unchanged since its last build (change detection). */
  outcome?: 'unchanged';
  /** Not built because a model it reads did not build in this run (UPSTREAM_FAILED). */
  skipped?: 'upstream_failed';
  'upstream-card-id'?: number;
  'ended-at': string;
}

/**
 * Records the build facts of a success (mode, merged rows, checkpoint, query and index build times) under
 * task_details.models[card id], also after the completion (they are not counts). Order-independent: of two
 * successes of one model (a redelivered run) the later end wins; beyond MAX_PROGRESS_ERRORS models the
 * lowest card ids are kept.
 */
function recordModelResult(
  details: Details,
  event: Extract<HistoryEvent, { type: 'RefreshSucceeded' }>,
): void {
  if (event.outcome === 'unchanged') {
    putModel(details, event.cardId, { outcome: 'unchanged', 'ended-at': event.endedAt });
    return;
  }
  if (event.mode === undefined && event.queryMs === undefined && event.indexMs === undefined) return;
  const result: ModelResult = { 'ended-at': event.endedAt };
  if (event.mode !== undefined) result.mode = event.mode;
  if (event.fullReason !== undefined) result['full-reason'] = event.fullReason;
  if (event.rowsInserted !== undefined) result['rows-inserted'] = event.rowsInserted;
  if (event.rowsUpdated !== undefined) result['rows-updated'] = event.rowsUpdated;
  if (event.checkpoint !== undefined) result.checkpoint = event.checkpoint;
  if (event.queryMs !== undefined) result['query-ms'] = event.queryMs;
  if (event.indexMs !== undefined) result['index-ms'] = event.indexMs;
  putModel(details, event.cardId, result);
}

function recordUpstreamSkip(details: Details, event: Extract<HistoryEvent, { type: 'RefreshFailed' }>): void {
  putModel(details, event.cardId, {
    skipped: 'upstream_failed',
    'upstream-card-id': event.upstreamCardId,
    'ended-at': event.endedAt,
  });
}

/** task_details.models[cardId]: the newest result of a model wins (order-independent), bounded in size. */
function putModel(details: Details, cardId: number, result: ModelResult): void {
  const models = { ...((details.models as Record<string, ModelResult> | undefined) ?? {}) };
  const key = String(cardId);
  const existing = models[key];
  if (existing && existing['ended-at'] >= result['ended-at']) return;
  models[key] = result;
  const keys = Object.keys(models).sort((a, b) => Number(a) - Number(b));
  for (const extra of keys.slice(MAX_PROGRESS_ERRORS)) delete models[extra];
  details.models = models;
}

/** Why a run was closed by the sweep; deterministic, so a replay writes the same text. */
export function staleReason(row: TaskHistoryRow, timeoutMs: number): string {
  const last = (row.lastEventAt ?? row.startedAt).toISOString();
  const [completion, worker] =
    row.task === PRUNE_TASK
      ? ['PruneRunCompleted', 'pruning refresher']
      : ['RefreshRunCompleted', 'refresher'];
  return (
    `run never completed: no ${completion} and no other event for this run since ${last} ` +
    `(stale-run timeout ${timeoutMs} ms); the ${worker} probably stopped mid-run. ` +
    `Closed as failed by the history projector; a later completion event replaces this.`
  );
}

/**
 * Closes an open run whose newest event is more than `timeoutMs` before `now`: status failed, ended at its
 * last sign of life (not at `now`, so live and replayed tables agree), with the reason in task_details.
 * Returns the same object when nothing changes.
 */
export function closeIfStale(row: TaskHistoryRow, now: Date, timeoutMs: number): TaskHistoryRow {
  if (row.status !== 'started') return row;
  const last = row.lastEventAt ?? row.startedAt;
  if (now.getTime() - last.getTime() <= timeoutMs) return row;
  return {
    ...row,
    status: 'failed',
    endedAt: last,
    duration: clampDuration(last.getTime() - row.startedAt.getTime()),
    taskDetails: { ...(row.taskDetails ?? {}), stale: true, reason: staleReason(row, timeoutMs) },
  };
}
