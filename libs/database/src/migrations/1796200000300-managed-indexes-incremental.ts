import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Managed indexes and incremental refresh (issue 14, parts 1 and 3).
 * - card.indexes: the indexes every build of the model's cache table gets (built before the swap).
 * - card.incremental: checkpoint column, unique key, lookback and full-rebuild cron of an incremental model.
 * - persisted_info.build_hash: hash of what an incremental merge depends on (SQL, key, checkpoint column,
 *   indexes) as of the last full build; a different hash forces a full rebuild.
 * - persisted_info.checkpoint: the newest checkpoint value kept in the cache (text), null: none usable.
 * - persisted_info.last_full_at: end of the last full build (the full-rebuild cron counts from here).
 */
export class ManagedIndexesIncremental1796200000300 implements MigrationInterface {
  name = 'ManagedIndexesIncremental1796200000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE card ADD COLUMN indexes jsonb`);
    await q.query(`ALTER TABLE card ADD COLUMN incremental jsonb`);
    await q.query(`ALTER TABLE persisted_info ADD COLUMN build_hash text`);
    await q.query(`ALTER TABLE persisted_info ADD COLUMN checkpoint text`);
    await q.query(`ALTER TABLE persisted_info ADD COLUMN last_full_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE persisted_info DROP COLUMN IF EXISTS last_full_at`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN IF EXISTS checkpoint`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN IF EXISTS build_hash`);
    await q.query(`ALTER TABLE card DROP COLUMN IF EXISTS incremental`);
    await q.query(`ALTER TABLE card DROP COLUMN IF EXISTS indexes`);
  }
}
