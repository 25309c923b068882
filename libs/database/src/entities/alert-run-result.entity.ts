import { Column, Entity, PrimaryColumn } from 'typeorm';

/** skipped: left as it was this run (a lock, an upstream model that did not build); never an alert of its own. */
export type AlertRunOutcome = 'error' | 'success' | 'skipped';

/** Notifier: one model's outcome in a run, collected until the run's alert decision. */
@Entity({ name: 'alert_run_result' })
export class AlertRunResultEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @PrimaryColumn({ name: 'card_id', type: 'int' })
  cardId!: number;

  @PrimaryColumn({ type: 'text' })
  outcome!: AlertRunOutcome;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  @Column({ name: 'persisted_info_id', type: 'int', nullable: true })
  persistedInfoId!: number | null;

  @Column({ type: 'text' })
  trigger!: string;

  @Column({ name: 'error_class', type: 'text', nullable: true })
  errorClass!: string | null;

  @Column({ name: 'error_code', type: 'text', nullable: true })
  errorCode!: string | null;

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ name: 'ended_at', type: 'timestamptz' })
  endedAt!: Date;

  /** For a model skipped with UPSTREAM_FAILED: the model it reads that did not build. */
  @Column({ name: 'upstream_card_id', type: 'int', nullable: true })
  upstreamCardId!: number | null;

  /** This success ended an announced failure. */
  @Column({ type: 'boolean', default: false })
  recovered!: boolean;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
