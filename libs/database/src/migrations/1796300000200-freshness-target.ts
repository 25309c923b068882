import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (freshness targets): a model's `max_staleness`, in whole seconds (the API takes an ISO-8601
 * duration). The bounds are enforced here too: at least a minute (a tighter target would keep the scheduler
 * requesting refreshes back to back), at most a year.
 */
export class FreshnessTarget1796300000200 implements MigrationInterface {
  name = 'FreshnessTarget1796300000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE card ADD COLUMN max_staleness_seconds integer
         CONSTRAINT card_max_staleness_seconds_check
         CHECK (max_staleness_seconds IS NULL OR max_staleness_seconds BETWEEN 60 AND 31536000)`,
    );
    // duration of the last successful build (claim to success), written with last_success_at: the scheduler's
    // expected build time, read from the row so every replica derives the same top-up time
    await q.query(
      `ALTER TABLE persisted_info ADD COLUMN last_build_ms integer
         CONSTRAINT persisted_info_last_build_ms_check CHECK (last_build_ms IS NULL OR last_build_ms >= 0)`,
    );
    // the scheduler reads the models with a target on every freshness poll
    await q.query(`CREATE INDEX card_max_staleness_idx ON card (id) WHERE max_staleness_seconds IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX card_max_staleness_idx`);
    await q.query(`ALTER TABLE persisted_info DROP COLUMN last_build_ms`);
    await q.query(`ALTER TABLE card DROP COLUMN max_staleness_seconds`);
  }
}
