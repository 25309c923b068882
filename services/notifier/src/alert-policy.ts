/*
 * The de-duplication policy, pure so it is unit tested on its own. Times are the events' own times
 * (refresh end), not the clock, so a late or replayed event is judged the same way.
 */

/**
 * Error class of a failed model whose RefreshFailed event never arrived (the run listed it; the run was decided
 * after its grace period without it). It says nothing about the error, so it never makes a failure news by itself.
 */
export const UNKNOWN_ERROR_CLASS = 'unknown';

export interface AlertStateView {
  /** An announced failure that has not been followed by a success yet. */
  announced: boolean;
  /** End time of the failure last announced. */
  announcedAt: Date | null;
  announcedErrorClass: string | null;
  announcedRunId: string | null;
  lastSuccessAt: Date | null;
}

export interface FailureFact {
  runId: string;
  errorClass: string;
  endedAt: Date;
}

export type AnnounceReason = 'first-failure' | 'after-success' | 'new-error-class' | 'window-elapsed';

export type FailureDecision =
  { announce: true; reason: AnnounceReason } | { announce: false; reason: 'repeat-within-window' };

export function decideFailure(
  state: AlertStateView | null,
  failure: FailureFact,
  repeatWindowMs: number,
): FailureDecision {
  if (!state || !state.announcedAt) return { announce: true, reason: 'first-failure' };
  // persisted → error: the model worked again since we last spoke about it, so this is news
  if (state.lastSuccessAt && state.lastSuccessAt.getTime() > state.announcedAt.getTime()) {
    return { announce: true, reason: 'after-success' };
  }
  if (!sameClass(state.announcedErrorClass, failure.errorClass)) {
    return { announce: true, reason: 'new-error-class' };
  }
  if (failure.endedAt.getTime() - state.announcedAt.getTime() >= repeatWindowMs) {
    return { announce: true, reason: 'window-elapsed' };
  }
  return { announce: false, reason: 'repeat-within-window' };
}

/**
 * An unknown class matches any: a run decided without its per-model event (late after a broker outage) is not a
 * different error from the one announced, and the real class arriving with the next run is not news either.
 */
function sameClass(announced: string | null, now: string): boolean {
  return announced === now || announced === UNKNOWN_ERROR_CLASS || now === UNKNOWN_ERROR_CLASS;
}

/**
 * The state to keep after a failure that was not announced: an announcement recorded with an unknown class learns
 * the real one (so a later, really different class is still news); otherwise nothing changes.
 */
export function afterSilentRepeat(state: AlertStateView, failure: FailureFact): AlertStateView | null {
  if (state.announcedErrorClass !== UNKNOWN_ERROR_CLASS || failure.errorClass === UNKNOWN_ERROR_CLASS) {
    return null;
  }
  return { ...state, announcedErrorClass: failure.errorClass };
}

/** State after a failure was announced. */
export function afterAnnouncement(state: AlertStateView | null, failure: FailureFact): AlertStateView {
  return {
    announced: true,
    announcedAt: failure.endedAt,
    announcedErrorClass: failure.errorClass,
    announcedRunId: failure.runId,
    lastSuccessAt: state?.lastSuccessAt ?? null,
  };
}

/** A success: remembers it and tells whether it ends an announced failure (a recovery email is due). */
export function applySuccess(
  state: AlertStateView | null,
  endedAt: Date,
): { recovered: boolean; next: AlertStateView } {
  const last = state?.lastSuccessAt;
  const lastSuccessAt = last && last.getTime() > endedAt.getTime() ? last : endedAt;
  const recovered =
    !!state?.announced && (!state.announcedAt || endedAt.getTime() > state.announcedAt.getTime());
  return {
    recovered,
    next: {
      announced: recovered ? false : (state?.announced ?? false),
      announcedAt: state?.announcedAt ?? null,
      announcedErrorClass: state?.announcedErrorClass ?? null,
      announcedRunId: state?.announcedRunId ?? null,
      lastSuccessAt,
    },
  };
}
