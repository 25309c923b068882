import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { NotificationKind, NotificationOutboxEntity } from '../entities';

export interface NewNotification {
  dedupeKey: string;
  kind: NotificationKind;
  databaseId: number;
  runId: string;
  subject: string;
  textBody: string;
  htmlBody: string;
  /** Trace context to continue when the email is sent (null or absent: the send starts its own trace). */
  traceContext?: Record<string, string> | null;
}

/** The notifier's email outbox: rows are queued in the event's transaction and delivered by a loop. */
@Injectable()
export class NotificationOutboxRepository {
  constructor(private readonly ds: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(NotificationOutboxEntity);
  }

  /** Returns false when a notification with this dedupe key already exists. */
  async enqueue(n: NewNotification, manager?: EntityManager): Promise<boolean> {
    const r = await (manager ?? this.ds.manager)
      .createQueryBuilder()
      .insert()
      .into(NotificationOutboxEntity)
      .values({ ...n, status: 'pending' })
      .orIgnore()
      .returning(['id'])
      .execute();
    return (r.raw as unknown[]).length > 0;
  }

  /**
   * Claims up to `limit` due rows for `leaseMs` (their next attempt moves past the lease), so replicas
   * never send the same row at once and a sender that dies mid-send leaves the row due again later.
   */
  async claimDue(limit: number, leaseMs: number): Promise<NotificationOutboxEntity[]> {
    // the pg driver answers UPDATE … RETURNING with [rows, affected count]
    const [rows] = await this.ds.query<[{ id: string }[], number]>(
      `update notification_outbox set next_attempt_at = now() + ($2::int * interval '1 millisecond')
        where id in (select id from notification_outbox
                      where status = 'pending' and next_attempt_at <= now()
                      order by next_attempt_at, id limit $1 for update skip locked)
        returning id`,
      [limit, leaseMs],
    );
    if (rows.length === 0) return [];
    return this.repo()
      .createQueryBuilder('o')
      .where('o.id in (:...ids)', { ids: rows.map((r) => r.id) })
      .orderBy('o.id', 'ASC')
      .getMany();
  }

  /** Gives claimed rows back (due now), for a sender that stops before sending them. */
  async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ds.query(
      `update notification_outbox set next_attempt_at = now() where id = any($1::bigint[]) and status = 'pending'`,
      [ids],
    );
  }

  async markSent(id: string, messageId: string | null): Promise<void> {
    await this.repo().update(
      { id },
      { status: 'sent', sentAt: new Date(), messageId, lastError: null, attempts: () => 'attempts + 1' },
    );
  }

  async markFailed(id: string, error: string, retryInMs: number): Promise<void> {
    await this.ds.query(
      `update notification_outbox set attempts = attempts + 1, last_error = $2,
              next_attempt_at = now() + ($3::int * interval '1 millisecond')
        where id = $1 and status = 'pending'`,
      [id, error.slice(0, 2000), Math.round(retryInMs)],
    );
  }

  async markDropped(id: string, reason: string): Promise<void> {
    await this.repo().update({ id }, { status: 'dropped', lastError: reason.slice(0, 2000) });
  }

  findByRun(runId: string, manager?: EntityManager): Promise<NotificationOutboxEntity[]> {
    return this.repo(manager).find({ where: { runId }, order: { id: 'ASC' } });
  }

  findByDedupeKey(dedupeKey: string, manager?: EntityManager): Promise<NotificationOutboxEntity | null> {
    return this.repo(manager).findOneBy({ dedupeKey });
  }

  async purgeSentBefore(cutoff: Date): Promise<number> {
    const r = await this.ds.query<[unknown, number]>(
      `delete from notification_outbox where status in ('sent', 'dropped') and created_at < $1`,
      [cutoff],
    );
    return r[1];
  }
}
