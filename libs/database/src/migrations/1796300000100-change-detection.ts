import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 13 (change detection): a scheduled refresh skips a model whose inputs did not change since its last build.
 * - `persisted_info.input_signature`: the signature of the model's inputs read just before its last successful
 *   build (null: none, or the refresher could not tell; then the next refresh builds). Written by the refresher.
 * - `persisted_info.last_built_at`: end of the last real build (or merge). `last_success_at` stays the "fresh as
 *   of" time staleness uses: a verified-unchanged check moves it forward, this one only moves on a build.
 * - `card.refresh_key`: a model's own change query (e.g. `select max(updated_at) from orders`); its result is the
 *   signature instead of the table statistics.
 */
export class ChangeDetection1796300000100 implements MigrationInterface {
  name = 'ChangeDetection1796300000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE persisted_info ADD COLUMN input_signature text`);
    await q.query(`ALTER TABLE persisted_info ADD COLUMN last_built_at timestamptz`);
    await q.query(`UPDATE persisted_info SET last_built_at = last_success_at`);
    await q.query(`ALTER TABLE card ADD COLUMN refresh_key text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE card DROP COLUMN refresh_key`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN last_built_at`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN input_signature`);
  }
}
