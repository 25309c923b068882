import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Notifier: what was last announced about a model, so a repeated failure is not re-announced. */
@Entity({ name: 'alert_state' })
export class AlertStateEntity {
  @PrimaryColumn({ name: 'card_id', type: 'int' })
  cardId!: number;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  /** An announced failure not yet followed by a success (a recovery email is due on the next success). */
  @Column({ type: 'boolean', default: false })
  announced!: boolean;

  /** End time of the failed refresh that was last announced. */
  @Column({ name: 'announced_at', type: 'timestamptz', nullable: true })
  announcedAt!: Date | null;

  @Column({ name: 'announced_error_class', type: 'text', nullable: true })
  announcedErrorClass!: string | null;

  @Column({ name: 'announced_run_id', type: 'uuid', nullable: true })
  announcedRunId!: string | null;

  @Column({ name: 'last_success_at', type: 'timestamptz', nullable: true })
  lastSuccessAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}
