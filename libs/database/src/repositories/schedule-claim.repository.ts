import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface ClaimRequest {
  scheduleKey: string;
  fireTime: Date;
}

/**
 * Exactly-once fires across scheduler replicas: a (schedule key, fire time) row is claimed by one INSERT;
 * only the replica whose insert (or fenced take-over) returned the row publishes, then marks it published.
 */
@Injectable()
export class ScheduleClaimRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Claims every fire in one statement; returns the ones this instance won. A row that another instance
   * claimed more than `staleMs` ago and never marked published is taken over (its owner is presumed dead).
   */
  async claim(fires: ClaimRequest[], instanceId: string, staleMs: number): Promise<ClaimRequest[]> {
    if (fires.length === 0) return [];
    const rows = await this.ds.query<{ schedule_key: string; fire_time: Date }[]>(
      `insert into schedule_claim (schedule_key, fire_time, claimed_by, claimed_at)
       select k, t, $3, now() from unnest($1::text[], $2::timestamptz[]) as f(k, t)
       on conflict (schedule_key, fire_time) do update
         set claimed_by = excluded.claimed_by, claimed_at = now()
         where schedule_claim.published_at is null
           and schedule_claim.claimed_by <> excluded.claimed_by
           and schedule_claim.claimed_at < now() - make_interval(secs => $4::double precision / 1000)
       returning schedule_key, fire_time`,
      [fires.map((f) => f.scheduleKey), fires.map((f) => f.fireTime.toISOString()), instanceId, staleMs],
    );
    return rows.map((r) => ({ scheduleKey: r.schedule_key, fireTime: new Date(r.fire_time) }));
  }

  /** Fenced: only the current holder's mark counts. Returns how many rows were marked. */
  async markPublished(fires: ClaimRequest[], instanceId: string): Promise<number> {
    if (fires.length === 0) return 0;
    const r = await this.ds.query<[unknown, number]>(
      `update schedule_claim c set published_at = now()
       from unnest($1::text[], $2::timestamptz[]) as f(k, t)
       where c.schedule_key = f.k and c.fire_time = f.t and c.claimed_by = $3 and c.published_at is null`,
      [fires.map((f) => f.scheduleKey), fires.map((f) => f.fireTime.toISOString()), instanceId],
    );
    return r[1];
  }

  /** Gives claims back (publish failed) so another replica, or this one, can take them at once. */
  async release(fires: ClaimRequest[], instanceId: string): Promise<void> {
    if (fires.length === 0) return;
    await this.ds.query(
      `delete from schedule_claim c using unnest($1::text[], $2::timestamptz[]) as f(k, t)
       where c.schedule_key = f.k and c.fire_time = f.t and c.claimed_by = $3 and c.published_at is null`,
      [fires.map((f) => f.scheduleKey), fires.map((f) => f.fireTime.toISOString()), instanceId],
    );
  }

  /** Claims left unpublished by a dead owner (older than `staleMs`), fired no earlier than `since`. */
  async findStale(staleMs: number, since: Date, limit = 1000): Promise<ClaimRequest[]> {
    const rows = await this.ds.query<{ schedule_key: string; fire_time: Date }[]>(
      `select schedule_key, fire_time from schedule_claim
       where published_at is null and fire_time >= $2 and fire_time <= now()
         and claimed_at < now() - make_interval(secs => $1::double precision / 1000)
       order by fire_time limit $3`,
      [staleMs, since.toISOString(), limit],
    );
    return rows.map((r) => ({ scheduleKey: r.schedule_key, fireTime: new Date(r.fire_time) }));
  }

  /** Which of these fires already have a claim row (published or in flight). */
  async existing(fires: ClaimRequest[]): Promise<ClaimRequest[]> {
    if (fires.length === 0) return [];
    const rows = await this.ds.query<{ schedule_key: string; fire_time: Date }[]>(
      `select c.schedule_key, c.fire_time from schedule_claim c
       join unnest($1::text[], $2::timestamptz[]) as f(k, t) on c.schedule_key = f.k and c.fire_time = f.t`,
      [fires.map((f) => f.scheduleKey), fires.map((f) => f.fireTime.toISOString())],
    );
    return rows.map((r) => ({ scheduleKey: r.schedule_key, fireTime: new Date(r.fire_time) }));
  }

  /** Every claim of one key, oldest first (tests and diagnostics). */
  async findByKey(
    scheduleKey: string,
  ): Promise<{ fireTime: Date; claimedBy: string; claimedAt: Date; publishedAt: Date | null }[]> {
    const rows = await this.ds.query<
      { fire_time: Date; claimed_by: string; claimed_at: Date; published_at: Date | null }[]
    >(
      `select fire_time, claimed_by, claimed_at, published_at from schedule_claim
       where schedule_key = $1 order by fire_time`,
      [scheduleKey],
    );
    return rows.map((r) => ({
      fireTime: new Date(r.fire_time),
      claimedBy: r.claimed_by,
      claimedAt: new Date(r.claimed_at),
      publishedAt: r.published_at ? new Date(r.published_at) : null,
    }));
  }

  /** Deletes claims of fires older than `before`; returns how many. */
  async deleteOlderThan(before: Date): Promise<number> {
    const r = await this.ds.query<[unknown, number]>(`delete from schedule_claim where fire_time < $1`, [
      before.toISOString(),
    ]);
    return r[1];
  }
}
