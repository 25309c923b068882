import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14 (models on models): the notifier also keeps a run's skipped models, with the model whose failure
 * kept them from building (`upstream_card_id`, UPSTREAM_FAILED), so the failure email lists them under it.
 */
export class AlertSkippedResults1796200000400 implements MigrationInterface {
  name = 'AlertSkippedResults1796200000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alert_run_result DROP CONSTRAINT alert_run_result_outcome_check`);
    await q.query(
      `ALTER TABLE alert_run_result ADD CONSTRAINT alert_run_result_outcome_check
         CHECK (outcome IN ('error', 'success', 'skipped'))`,
    );
    await q.query(`ALTER TABLE alert_run_result ADD COLUMN upstream_card_id int`);
    // how many skipped results a run waits for before it is decided
    await q.query(`ALTER TABLE alert_run ADD COLUMN skipped int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alert_run DROP COLUMN skipped`);
    await q.query(`DELETE FROM alert_run_result WHERE outcome = 'skipped'`);
    await q.query(`ALTER TABLE alert_run_result DROP COLUMN upstream_card_id`);
    await q.query(`ALTER TABLE alert_run_result DROP CONSTRAINT alert_run_result_outcome_check`);
    await q.query(
      `ALTER TABLE alert_run_result ADD CONSTRAINT alert_run_result_outcome_check
         CHECK (outcome IN ('error', 'success'))`,
    );
  }
}
