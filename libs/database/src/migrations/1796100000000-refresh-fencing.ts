import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fenced refreshes and once-in-effect run completion.
 * - persisted_info.generation: set by every refresh claim from one sequence (a fencing token that only grows,
 *   even across a row deleted by prune and created again for the same table); a build writes its outcome and
 *   swaps its table only while it is the newest generation.
 * - refresh_run_completion: one row per refresh run; only the refresher that wins it publishes the run's
 *   RefreshRunCompleted (a redelivery to a new partition owner while the old one still runs no longer
 *   completes the run twice).
 */
export class RefreshFencing1796100000000 implements MigrationInterface {
  name = 'RefreshFencing1796100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE persisted_info_generation_seq AS integer`);
    await q.query(`ALTER TABLE persisted_info ADD COLUMN generation integer NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE TABLE refresh_run_completion (
        run_id uuid PRIMARY KEY,
        database_id integer NOT NULL,
        completed_by text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await q.query(`CREATE INDEX refresh_run_completion_claimed_idx ON refresh_run_completion (claimed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS refresh_run_completion`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN IF EXISTS generation`);
    await q.query(`DROP SEQUENCE IF EXISTS persisted_info_generation_seq`);
  }
}
