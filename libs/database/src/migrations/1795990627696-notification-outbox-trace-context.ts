import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * notification_outbox.trace_context: the W3C trace context (traceparent/tracestate) active when the email was
 * queued, so the sender's SMTP span joins the trace of the refresh request that caused it. Null for rows
 * queued outside a trace (the sender's own sweeps) and for rows written before this migration.
 */
export class NotificationOutboxTraceContext1795990627696 implements MigrationInterface {
  name = 'NotificationOutboxTraceContext1795990627696';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE notification_outbox ADD COLUMN trace_context jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE notification_outbox DROP COLUMN IF EXISTS trace_context`);
  }
}
