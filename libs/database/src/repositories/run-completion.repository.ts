import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A refresher's claim on a run's completion (see RunCompletionRepository.claim). */
export interface RunCompletionClaim {
  runId: string;
  databaseId: number;
  owner: string;
  /** another refresher's claim older than this (never published) is taken over */
  takeOverAfterMs: number;
}

/**
 * The claim statement (an INSERT … ON CONFLICT … RETURNING run_id: a row returned = won), its values bound through
 * `param` (which returns the placeholder of a value it appended to the statement's parameters): the one definition
 * of the claim rule, run on its own (claim) or inside the outcome write (PersistedInfoRepository.finishRefresh).
 */
export function completionClaimSql(c: RunCompletionClaim, param: (value: unknown) => string): string {
  return `INSERT INTO refresh_run_completion AS r (run_id, database_id, completed_by)
       VALUES (${param(c.runId)}, ${param(c.databaseId)}, ${param(c.owner)})
       ON CONFLICT (run_id) DO UPDATE SET completed_by = EXCLUDED.completed_by, claimed_at = now()
        WHERE r.published_at IS NULL
          AND (r.completed_by = EXCLUDED.completed_by
               OR r.claimed_at < now() - ${param(c.takeOverAfterMs)} * interval '1 millisecond')
       RETURNING run_id`;
}

/**
 * Once-in-effect completion of a refresh run. A run may be executed by two refreshers at once (a live owner
 * that lost its partition in a rebalance, and the new owner of the redelivered request): only the one that
 * wins the run's completion row publishes RefreshRunCompleted. The winner may publish again on its own retry
 * (a failed publish); another refresher takes the row over only if the winner never published and its claim
 * is older than `takeOverAfterMs` (it died in between).
 */
@Injectable()
export class RunCompletionRepository {
  constructor(private readonly ds: DataSource) {}

  /** True when this refresher may publish the run's completion. */
  async claim(runId: string, databaseId: number, owner: string, takeOverAfterMs: number): Promise<boolean> {
    const params: unknown[] = [];
    const sql = completionClaimSql({ runId, databaseId, owner, takeOverAfterMs }, (v) => {
      params.push(v);
      return `$${params.length}`;
    });
    // an INSERT … RETURNING comes back as the rows themselves through TypeORM's pg driver
    const rows = await this.ds.query<unknown[]>(sql, params);
    return rows.length > 0;
  }

  async markPublished(runId: string, owner: string): Promise<void> {
    await this.ds.query(
      `UPDATE refresh_run_completion SET published_at = now() WHERE run_id = $1 AND completed_by = $2`,
      [runId, owner],
    );
  }

  /**
   * markPublished and the request's inbox row (InboxRepository.record) in one statement, so one transaction and
   * one round trip end a run: either both are written or neither (the request is then redelivered, and the run's
   * completion claim is still this refresher's).
   */
  async markPublishedAndProcessed(
    runId: string,
    owner: string,
    inbox: { consumer: string; eventId: string },
  ): Promise<void> {
    // a data-modifying WITH runs whether or not the main statement reads it
    await this.ds.query(
      `WITH mark AS (
         UPDATE refresh_run_completion SET published_at = now() WHERE run_id = $1 AND completed_by = $2)
       INSERT INTO inbox (consumer, event_id) VALUES ($3, $4) ON CONFLICT DO NOTHING`,
      [runId, owner, inbox.consumer, inbox.eventId],
    );
  }

  /** Gives the claim back after a failed publish, so a redelivery (to any refresher) completes the run. */
  async release(runId: string, owner: string): Promise<void> {
    await this.ds.query(
      `DELETE FROM refresh_run_completion WHERE run_id = $1 AND completed_by = $2 AND published_at IS NULL`,
      [runId, owner],
    );
  }

  /** Drops completion rows older than the retention (runs are never redelivered that late). */
  async purgeOlderThan(ms: number): Promise<number> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `DELETE FROM refresh_run_completion WHERE claimed_at < now() - $1 * interval '1 millisecond'`,
      [ms],
    );
    return n;
  }
}
