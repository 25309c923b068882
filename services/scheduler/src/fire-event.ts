import { createHash } from 'node:crypto';
import { createEvent, databaseKey, PRUNE_KEY, Topics } from '@model-persistence/contracts';
import { OutgoingEvent } from '@model-persistence/messaging';
import { ScheduleDef } from './schedule-plan';

export const REQUESTED_BY = 'scheduler';

/**
 * The same (schedule, fire time) always yields the same eventId (a name-based UUID), so even the rare
 * duplicate publish of a fenced-out replica is de-duplicated by consumers' inboxes.
 */
export function fireEventId(scheduleKey: string, fireTime: number): string {
  const h = createHash('sha256')
    .update(`${scheduleKey}|${new Date(fireTime).toISOString()}`)
    .digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The event a fire publishes (null for fires that do work in place, like the schedule-claim clean-up). */
export function buildFireEvent(def: ScheduleDef, fireTime: number): OutgoingEvent | null {
  const common = {
    eventId: fireEventId(def.key, fireTime),
    // the fire happened at its planned time; the broker timestamp tells when it was published
    occurredAt: new Date(fireTime).toISOString(),
    requestedBy: REQUESTED_BY,
  };
  const headers = { 'schedule-key': def.key, 'fire-time': new Date(fireTime).toISOString() };
  switch (def.kind) {
    case 'database':
    case 'model':
    case 'freshness': // a top-up for a freshness target: the same request as the model's own schedule
      return {
        topic: Topics.RefreshRequested,
        key: databaseKey(def.databaseId!),
        headers,
        event: createEvent('RefreshRequested', {
          ...common,
          databaseId: def.databaseId!,
          ...(def.kind === 'database' ? {} : { cardId: def.cardId! }),
          trigger: 'scheduled',
        }),
      };
    case 'prune':
      return {
        topic: Topics.PruneRequested,
        key: PRUNE_KEY,
        headers,
        event: createEvent('PruneRequested', { ...common, trigger: 'scheduled' }),
      };
    case 'prune-disable':
    case 'prune-followup':
      return {
        topic: Topics.PruneRequested,
        key: PRUNE_KEY,
        headers,
        event: createEvent('PruneRequested', { ...common, trigger: 'disable' }),
      };
    case 'claim-cleanup':
      return null;
  }
}
