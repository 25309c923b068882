import { EventOf, TopicName, Topics } from '@model-persistence/contracts';

/** The event types the projector reads, per topic; anything else on these topics is dead-lettered. */
export const HISTORY_TOPICS = {
  [Topics.RefreshRuns]: ['RefreshRunStarted', 'RefreshRunCompleted'],
  [Topics.RefreshSucceeded]: ['RefreshSucceeded'],
  [Topics.RefreshFailed]: ['RefreshFailed'],
  [Topics.PruneRuns]: ['PruneRunStarted', 'PruneRunCompleted'],
} as const satisfies Partial<Record<TopicName, readonly string[]>>;

export type HistoryTopic = keyof typeof HISTORY_TOPICS;
export type HistoryEventType = (typeof HISTORY_TOPICS)[HistoryTopic][number];
export type HistoryEvent = EventOf<HistoryEventType>;

export const HISTORY_TOPIC_NAMES = Object.keys(HISTORY_TOPICS) as HistoryTopic[];
