import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifier tables: per-model alert state (de-duplication), per-run collected results (a run's failures
 * arrive on two topics in any order) and the email outbox (written with the inbox record, sent by a loop).
 */
export class NotifierAlerts1795986493652 implements MigrationInterface {
  name = 'NotifierAlerts1795986493652';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE alert_state (
        card_id int PRIMARY KEY,
        database_id int NOT NULL,
        announced boolean NOT NULL DEFAULT false,
        announced_at timestamptz,
        announced_error_class text,
        announced_run_id uuid,
        last_success_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE alert_run (
        run_id uuid PRIMARY KEY,
        database_id int NOT NULL,
        card_id int,
        trigger text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz NOT NULL,
        success int NOT NULL,
        error int NOT NULL,
        error_details jsonb NOT NULL,
        completed_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX alert_run_undecided_idx ON alert_run (completed_at) WHERE decided_at IS NULL`,
    );
    await q.query(`CREATE INDEX alert_run_decided_idx ON alert_run (decided_at)`);

    await q.query(`
      CREATE TABLE alert_run_result (
        run_id uuid NOT NULL,
        card_id int NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('error', 'success')),
        database_id int NOT NULL,
        persisted_info_id int,
        trigger text NOT NULL,
        error_class text,
        error_code text,
        message text,
        ended_at timestamptz NOT NULL,
        recovered boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, card_id, outcome)
      )`);
    await q.query(`CREATE INDEX alert_run_result_created_idx ON alert_run_result (created_at)`);

    await q.query(`
      CREATE TABLE notification_outbox (
        id bigserial PRIMARY KEY,
        dedupe_key text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('failure', 'recovery')),
        database_id int NOT NULL,
        run_id uuid NOT NULL,
        subject text NOT NULL,
        text_body text NOT NULL,
        html_body text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped')),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        message_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX notification_outbox_dedupe_key ON notification_outbox (dedupe_key)`);
    await q.query(
      `CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at) WHERE status = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['notification_outbox', 'alert_run_result', 'alert_run', 'alert_state']) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
