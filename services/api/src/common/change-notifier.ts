import { Injectable } from '@nestjs/common';
import {
  ConfigurationChanged,
  createEvent,
  databaseKey,
  PRUNE_KEY,
  RefreshRequested,
  Topics,
} from '@model-persistence/contracts';
import { EventPublisher, OutgoingEvent } from '@model-persistence/messaging';

export type ChangedEntity = ConfigurationChanged['entity'];
export type Change = ConfigurationChanged['change'];

/**
 * Builds the events the API publishes after committed changes and sends them. `send` resolves only after
 * the broker acknowledged every event (EventPublisher), and fails with BROKER_UNAVAILABLE (503) otherwise.
 */
@Injectable()
export class ChangeNotifier {
  constructor(private readonly publisher: EventPublisher) {}

  configChanged(entity: ChangedEntity, entityId: number | string | undefined, change: Change): OutgoingEvent {
    const event = createEvent('ConfigurationChanged', {
      entity,
      change,
      ...(entityId !== undefined ? { entityId } : {}),
    });
    return { topic: Topics.ConfigChanged, key: entity, event };
  }

  pruneRequested(trigger: 'disable' | 'manual', requestedBy?: string): OutgoingEvent {
    const event = createEvent('PruneRequested', { trigger, ...(requestedBy ? { requestedBy } : {}) });
    return { topic: Topics.PruneRequested, key: PRUNE_KEY, event };
  }

  refreshRequested(
    databaseId: number,
    cardId: number,
    requestedBy?: string,
    full = false,
    downstream = false,
    ifChanged = false,
  ): OutgoingEvent<RefreshRequested> {
    const event = createEvent('RefreshRequested', {
      databaseId,
      cardId,
      trigger: 'manual',
      ...(requestedBy ? { requestedBy } : {}),
      // only when asked: consumers that predate the field never see it otherwise
      ...(full ? { full: true } : {}),
      ...(downstream ? { downstream: true } : {}),
      ...(ifChanged ? { ifChanged: true } : {}),
    });
    return { topic: Topics.RefreshRequested, key: databaseKey(databaseId), event };
  }

  async send(...events: OutgoingEvent[]): Promise<void> {
    await this.publisher.publishAll(events);
  }
}
