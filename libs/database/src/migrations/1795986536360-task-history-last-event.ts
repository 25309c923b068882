import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * task_history.last_event_at: the newest event time seen for a run. The history projector's stale-run sweep
 * closes runs that stopped sending events, rather than runs that merely started long ago.
 */
export class TaskHistoryLastEvent1795986536360 implements MigrationInterface {
  name = 'TaskHistoryLastEvent1795986536360';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_history ADD COLUMN last_event_at timestamptz`);
    await q.query(
      `CREATE INDEX task_history_open_activity_idx ON task_history ((coalesce(last_event_at, started_at)))
         WHERE status = 'started'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS task_history_open_activity_idx`);
    await q.query(`ALTER TABLE task_history DROP COLUMN IF EXISTS last_event_at`);
  }
}
