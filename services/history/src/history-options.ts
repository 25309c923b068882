export const HISTORY_OPTIONS = Symbol('HISTORY_OPTIONS');

export interface HistoryOptions {
  /** Inbox consumer name: the events this projector applied are recorded under it. */
  consumer: string;
  staleRunTimeoutMs: number;
  sweepIntervalMs: number;
  /** task_history rows kept by the trim job. */
  keep: number;
  trimIntervalMs: number;
  /** Clock, replaceable in tests. */
  now?: () => Date;
}
