import {
  RefreshFailed,
  RefreshRequested,
  RefreshRunCompleted,
  RefreshRunStarted,
  RefreshSucceeded,
  createEvent,
} from '@model-persistence/contracts';
import { CardEntity, PersistedInfoEntity } from '@model-persistence/database';
import { Rejection } from './individual-run.guard';

/* The events a refresh run publishes, built from the request and what the run found (pure functions). */

/** `unchanged`: of the successes, models verified unchanged (not built); absent when none. */
export type Counts = { success: number; error: number; skipped: number; unchanged?: number };
export type ErrorDetail = RefreshRunCompleted['errorDetails'][number];

export function runStartedEvent(
  request: RefreshRequested,
  started: Date,
  modelCount: number,
): RefreshRunStarted {
  return createEvent('RefreshRunStarted', {
    runId: request.eventId,
    databaseId: request.databaseId,
    ...(request.cardId !== undefined ? { cardId: request.cardId } : {}),
    trigger: request.trigger,
    ...(request.requestedBy !== undefined ? { requestedBy: request.requestedBy } : {}),
    startedAt: started.toISOString(),
    modelCount,
  });
}

export function runCompletedEvent(
  request: RefreshRequested,
  started: Date,
  ended: Date,
  counts: Counts,
  details: ErrorDetail[],
): RefreshRunCompleted {
  return createEvent('RefreshRunCompleted', {
    runId: request.eventId,
    databaseId: request.databaseId,
    ...(request.cardId !== undefined ? { cardId: request.cardId } : {}),
    trigger: request.trigger,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: ended.getTime() - started.getTime(),
    ...counts,
    errorDetails: details.slice(0, 10_000),
  });
}

/** A success announced again from the row (the model was finished by an earlier delivery of this run). */
export function reannouncedSuccessEvent(
  info: PersistedInfoEntity,
  card: CardEntity,
  request: RefreshRequested,
): RefreshSucceeded {
  const started = info.refreshBegin ?? new Date();
  const ended = info.refreshEnd ?? new Date();
  return createEvent('RefreshSucceeded', {
    runId: request.eventId,
    databaseId: info.databaseId,
    cardId: card.id,
    persistedInfoId: info.id,
    trigger: request.trigger,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: Math.max(0, ended.getTime() - started.getTime()),
    attempts: 1,
    schemaName: info.schemaName,
    tableName: info.tableName,
    rows: null,
  });
}

/** A request that cannot run, reported as a failed (or skipped) model with the reason. */
export function rejectedEvent(
  request: RefreshRequested,
  cardId: number,
  started: Date,
  r: Rejection,
): RefreshFailed {
  const ended = new Date();
  return createEvent('RefreshFailed', {
    runId: request.eventId,
    databaseId: request.databaseId,
    cardId,
    persistedInfoId: r.persistedInfoId,
    trigger: request.trigger,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: ended.getTime() - started.getTime(),
    attempts: 0,
    outcome: r.outcome,
    errorClass: r.errorClass,
    errorCode: r.code,
    message: r.message,
  });
}
