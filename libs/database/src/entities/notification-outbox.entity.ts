import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type NotificationKind = 'failure' | 'recovery';
export type NotificationStatus = 'pending' | 'sent' | 'dropped';

/** Notifier outbox: a rendered email, written in the transaction of the event that caused it. */
@Entity({ name: 'notification_outbox' })
export class NotificationOutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  /** `<run id>:<kind>` (unique): a redelivered or replayed event never queues a second email. */
  @Column({ name: 'dedupe_key', type: 'text' })
  dedupeKey!: string;

  @Column({ type: 'text' })
  kind!: NotificationKind;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @Column({ type: 'text' })
  subject!: string;

  @Column({ name: 'text_body', type: 'text' })
  textBody!: string;

  @Column({ name: 'html_body', type: 'text' })
  htmlBody!: string;

  @Column({ type: 'text', default: 'pending' })
  status!: NotificationStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt!: Date;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'message_id', type: 'text', nullable: true })
  messageId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  /** W3C trace context (traceparent/tracestate) active when the row was queued; the SMTP send continues it. */
  @Column({ name: 'trace_context', type: 'jsonb', nullable: true })
  traceContext!: Record<string, string> | null;
}
