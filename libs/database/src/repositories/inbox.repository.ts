import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

const PURGE_BATCH = 5_000;

/** Records processed event ids per consumer so redelivered events have their effects once. */
@Injectable()
export class InboxRepository {
  constructor(private readonly ds: DataSource) {}

  async has(consumer: string, eventId: string, manager?: EntityManager): Promise<boolean> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      'select 1 from inbox where consumer = $1 and event_id = $2',
      [consumer, eventId],
    );
    return rows.length > 0;
  }

  /** Returns true when this call recorded the event, false when it was already there. */
  async record(consumer: string, eventId: string, manager?: EntityManager): Promise<boolean> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      'insert into inbox (consumer, event_id) values ($1, $2) on conflict do nothing returning event_id',
      [consumer, eventId],
    );
    return rows.length > 0;
  }

  /** Deletes one consumer's rows processed before the cutoff (each service purges its own inbox only). */
  async purgeOlderThan(consumer: string, cutoff: Date): Promise<number> {
    let deleted = 0;
    // in batches, so a first purge of a large backlog never holds many row locks or one long transaction
    for (;;) {
      const r = await this.ds.query<[unknown, number]>(
        `delete from inbox where ctid = any(array(
           select ctid from inbox where consumer = $1 and processed_at < $2 limit $3))`,
        [consumer, cutoff, PURGE_BATCH],
      );
      deleted += r[1];
      if (r[1] < PURGE_BATCH) return deleted;
    }
  }
}
