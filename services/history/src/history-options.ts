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

/** The projector's part of the history configuration (APP_CONFIG, as every service injects its configuration). */
export interface HistoryProjectorConfig {
  projector: HistoryOptions;
}
