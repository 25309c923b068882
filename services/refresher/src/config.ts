import { envInt, loadServiceConfig } from '@model-persistence/config';
import { ConsumerGroups, ErrorClass } from '@model-persistence/contracts';
import { inboxPurgeEnv, inboxPurgeOptions } from '@model-persistence/runtime';
import { z } from 'zod';

/** refresher configuration: base variables plus this service's own (README "Configuration"). */
export const refresherEnvSchema = z.object({
  /** Kafka consumer group of the refreshers (one group = one set of replicas sharing the work). */
  REFRESHER_CONSUMER_GROUP: z.string().min(1).max(200).default(ConsumerGroups.refresher.defaultGroup),
  /** Partitions (= databases) refreshed at once by one replica. */
  REFRESHER_CONCURRENCY: envInt(4, 1, 100),
  /**
   * Partitions one consumer handles at once when their requests arrive in the same fetch (kafkajs
   * partitionsConsumedConcurrently); up to REFRESHER_CONCURRENCY × this databases run at once on bursts.
   */
  REFRESHER_PARTITIONS_PER_CONSUMER: envInt(3, 1, 100),
  /** Lease on a persisted_info row while refreshing; renewed every third of it. */
  REFRESH_LEASE_MS: envInt(30_000, 3_000, 3_600_000),
  REFRESH_RETRY_CONNECTION_MAX: envInt(3, 0, 20),
  REFRESH_RETRY_CONNECTION_BASE_MS: envInt(1_000, 0, 600_000),
  REFRESH_RETRY_JITTER_PCT: envInt(20, 0, 100),
  REFRESH_RETRY_TIMEOUT_MAX: envInt(1, 0, 10),
  REFRESH_RETRY_TIMEOUT_FACTOR: envInt(2, 1, 10),
  REFRESH_RETRY_QUERY_MAX: envInt(0, 0, 10),
  PRUNE_GRACE_MS: envInt(3_600_000, 0, 365 * 24 * 3_600_000),
  /**
   * Change detection (scheduled runs and `ifChanged` requests skip models whose inputs did not change): on/off.
   */
  REFRESH_CHANGE_DETECTION: z.enum(['on', 'off']).default('on'),
  /**
   * How far behind a check a verified-unchanged model is called fresh (ms): the source's change markers may lag
   * a commit by this much (PostgreSQL reports a backend's table counters at most once a second).
   */
  REFRESH_CHANGE_SETTLE_MS: envInt(1_000, 0, 600_000),
  ...inboxPurgeEnv,
});

/** What to do after an error of one class: retry (with backoff, maybe a longer timeout) and then what. */
export interface ClassPolicy {
  retries: number;
  baseMs: number;
  /** Statement-timeout multiplier per retry. */
  timeoutFactor: number;
  /** When retries are used up: record an error, or skip the model this run (state unchanged). */
  exhausted: 'error' | 'skip';
}

export interface RetryPolicy {
  jitter: number;
  classes: Record<ErrorClass, ClassPolicy>;
}

export type RefresherConfig = ReturnType<typeof loadRefresherConfig>;

export function buildRetryPolicy(e: z.infer<typeof refresherEnvSchema>): RetryPolicy {
  const fail: ClassPolicy = { retries: 0, baseMs: 0, timeoutFactor: 1, exhausted: 'error' };
  return {
    jitter: e.REFRESH_RETRY_JITTER_PCT / 100,
    classes: {
      connection: {
        ...fail,
        retries: e.REFRESH_RETRY_CONNECTION_MAX,
        baseMs: e.REFRESH_RETRY_CONNECTION_BASE_MS,
      },
      // another session holds the table: try again next run instead of queueing behind it
      lock: { ...fail, exhausted: 'skip' },
      permission: fail,
      timeout: {
        ...fail,
        retries: e.REFRESH_RETRY_TIMEOUT_MAX,
        timeoutFactor: e.REFRESH_RETRY_TIMEOUT_FACTOR,
      },
      query: { ...fail, retries: e.REFRESH_RETRY_QUERY_MAX, baseMs: e.REFRESH_RETRY_CONNECTION_BASE_MS },
      'unsafe-sql': fail,
      invalid: fail,
      internal: fail,
    },
  };
}

export function loadRefresherConfig(env = process.env) {
  return loadServiceConfig(
    'refresher',
    refresherEnvSchema,
    (e) => ({
      consumerGroup: e.REFRESHER_CONSUMER_GROUP,
      /** Inbox consumer name for de-duplication of requests. */
      inboxConsumer: 'refresher' as const,
      concurrency: e.REFRESHER_CONCURRENCY,
      partitionsPerConsumer: e.REFRESHER_PARTITIONS_PER_CONSUMER,
      leaseMs: e.REFRESH_LEASE_MS,
      retry: buildRetryPolicy(e),
      pruneGraceMs: e.PRUNE_GRACE_MS,
      changeDetection: { enabled: e.REFRESH_CHANGE_DETECTION === 'on', settleMs: e.REFRESH_CHANGE_SETTLE_MS },
      inboxPurge: inboxPurgeOptions('refresher', e),
    }),
    env,
  );
}
