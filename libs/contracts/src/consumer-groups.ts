import { TopicName, Topics } from './topics';

/**
 * Which Kafka consumer groups exist and what they read (docs/ARCHITECTURE.md). Each service takes its group
 * name from here (the refresher's is configurable, REFRESHER_CONSUMER_GROUP; the scheduler has one per
 * instance), and the consumer-lag gauge reads the same declarations, so it watches the groups that exist.
 */
export const ConsumerGroups = {
  refresher: { defaultGroup: 'refresher', topics: [Topics.RefreshRequested, Topics.PruneRequested] },
  notifier: {
    group: 'notifier',
    topics: [Topics.RefreshFailed, Topics.RefreshSucceeded, Topics.RefreshRuns],
  },
  history: {
    group: 'history-projector',
    topics: [Topics.RefreshRuns, Topics.RefreshSucceeded, Topics.RefreshFailed, Topics.PruneRuns],
  },
  /** Every scheduler replica hears every change: one group per instance, `scheduler-<instance id>`. */
  scheduler: { groupPrefix: 'scheduler-', topics: [Topics.ConfigChanged] },
} as const;

export function schedulerConsumerGroupOf(instanceId: string): string {
  return `${ConsumerGroups.scheduler.groupPrefix}${instanceId}`;
}

/** A group whose lag is watched: by exact name, or every live group whose name starts with a prefix. */
export type ConsumerGroupSelector =
  { group: string; topics: readonly TopicName[] } | { groupPrefix: string; topics: readonly TopicName[] };

/** The groups of a deployment, given the settings that name them. */
export function consumerGroupSelectors(settings: { refresherGroup: string }): ConsumerGroupSelector[] {
  return [
    { group: settings.refresherGroup, topics: ConsumerGroups.refresher.topics },
    { group: ConsumerGroups.notifier.group, topics: ConsumerGroups.notifier.topics },
    { group: ConsumerGroups.history.group, topics: ConsumerGroups.history.topics },
    { groupPrefix: ConsumerGroups.scheduler.groupPrefix, topics: ConsumerGroups.scheduler.topics },
  ];
}
