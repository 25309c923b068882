import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

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

  async purgeOlderThan(cutoff: Date): Promise<number> {
    const r = await this.ds.query<[unknown, number]>('delete from inbox where processed_at < $1', [cutoff]);
    return r[1];
  }
}
