/**
 * Logical topic names. The full Kafka topic is `<prefix><name>` with the prefix from
 * KAFKA_TOPIC_PREFIX (default `persistence.`), e.g. `persistence.refresh.requested`.
 */
export const Topics = {
  /** RefreshRequested. Key: database id as a decimal string. Produced by the scheduler, the API and other systems. */
  RefreshRequested: 'refresh.requested',
  /** RefreshSucceeded, one per model refreshed. Key: database id. */
  RefreshSucceeded: 'refresh.succeeded',
  /** RefreshFailed, one per model that failed or was skipped. Key: database id. */
  RefreshFailed: 'refresh.failed',
  /** RefreshRunStarted / RefreshRunCompleted. Key: database id. */
  RefreshRuns: 'refresh.runs',
  /** PruneRequested. Key: "prune". */
  PruneRequested: 'prune.requested',
  /** PruneRunStarted / PruneRunCompleted. Key: "prune". */
  PruneRuns: 'prune.runs',
  /** ConfigurationChanged: settings, databases or cards changed; the scheduler reschedules. Key: entity. */
  ConfigChanged: 'config.changed',
  /** DeadLetter: anything a consumer could not process, with the original bytes and the reason. */
  DeadLetter: 'dead-letter',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

export const DEFAULT_TOPIC_PREFIX = 'persistence.';

export function topicName(prefix: string, topic: TopicName): string {
  return `${prefix}${topic}`;
}

/** All topics with their partition counts relative to the configured default. */
export function allTopics(prefix: string, partitions: number): { topic: string; numPartitions: number }[] {
  return Object.values(Topics).map((t) => ({
    topic: topicName(prefix, t),
    // prune and config are low volume and order-sensitive: one partition keeps them totally ordered
    numPartitions:
      t === Topics.PruneRequested || t === Topics.PruneRuns || t === Topics.ConfigChanged ? 1 : partitions,
  }));
}

/** Kafka message key of per-database topics. */
export function databaseKey(databaseId: number): string {
  return String(databaseId);
}

export const PRUNE_KEY = 'prune';
