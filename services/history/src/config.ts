import { envInt, loadServiceConfig } from '@model-persistence/config';
import { inboxPurgeEnv, inboxPurgeOptions } from '@model-persistence/runtime';
import { ConsumerGroups } from '@model-persistence/contracts';
import { z } from 'zod';
import type { HistoryOptions } from './history-options';

const HOUR_MS = 3_600_000;

/** Consumer group and inbox consumer name of the projector. */
const HISTORY_CONSUMER = ConsumerGroups.history.group;

/** history configuration: base variables plus this service's own (README "Configuration"). */
export const historyEnvSchema = z.object({
  /** A run with no event for this long and no completion is closed as failed (the refresher died). */
  HISTORY_STALE_RUN_TIMEOUT_MS: envInt(2 * HOUR_MS, 1_000, 30 * 24 * HOUR_MS),
  /** How often the stale-run sweep looks for such runs. */
  HISTORY_SWEEP_INTERVAL_MS: envInt(60_000, 100, HOUR_MS),
  /** Partitions projected at once by one replica (rows of one run are serialized by a lock anyway). */
  HISTORY_CONCURRENCY: envInt(3, 1, 100),
  /** task_history rows kept: the trim job deletes older ones beyond the newest this many. */
  TASK_HISTORY_KEEP: envInt(100_000, 1, 100_000_000),
  /** How often the trim job runs. */
  TASK_HISTORY_TRIM_INTERVAL_MS: envInt(HOUR_MS, 1_000, 24 * HOUR_MS),
  ...inboxPurgeEnv,
});

export type HistoryConfig = ReturnType<typeof loadHistoryConfig>;

export function loadHistoryConfig(env = process.env) {
  return loadServiceConfig(
    'history',
    historyEnvSchema,
    (e) => ({
      consumerGroup: HISTORY_CONSUMER,
      history: { concurrency: e.HISTORY_CONCURRENCY },
      projector: {
        consumer: HISTORY_CONSUMER,
        staleRunTimeoutMs: e.HISTORY_STALE_RUN_TIMEOUT_MS,
        sweepIntervalMs: e.HISTORY_SWEEP_INTERVAL_MS,
        keep: e.TASK_HISTORY_KEEP,
        trimIntervalMs: e.TASK_HISTORY_TRIM_INTERVAL_MS,
      } satisfies HistoryOptions,
      inboxPurge: inboxPurgeOptions(HISTORY_CONSUMER, e),
    }),
    env,
  );
}
