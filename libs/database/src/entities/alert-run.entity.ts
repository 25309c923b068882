import { Column, Entity, PrimaryColumn } from 'typeorm';

export interface AlertRunErrorDetail {
  persistedInfoId: number | null;
  cardId: number;
  error: string;
}

/** Notifier: a completed refresh run waiting for (or done with) its alert decision. */
@Entity({ name: 'alert_run' })
export class AlertRunEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  @Column({ name: 'card_id', type: 'int', nullable: true })
  cardId!: number | null;

  @Column({ type: 'text' })
  trigger!: string;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'ended_at', type: 'timestamptz' })
  endedAt!: Date;

  @Column({ type: 'int' })
  success!: number;

  @Column({ type: 'int' })
  error!: number;

  @Column({ type: 'int', default: 0 })
  skipped!: number;

  @Column({ name: 'error_details', type: 'jsonb' })
  errorDetails!: AlertRunErrorDetail[];

  @Column({ name: 'completed_at', type: 'timestamptz', default: () => 'now()' })
  completedAt!: Date;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt!: Date | null;
}
