import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type TaskStatus = 'started' | 'success' | 'failed' | 'unknown';

/** Task history, built by the history projector from the event log alone. */
@Entity({ name: 'task_history' })
export class TaskHistoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  task!: string;

  @Column({ name: 'db_id', type: 'int', nullable: true })
  dbId!: number | null;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt!: Date | null;

  /** Milliseconds. */
  @Column({ type: 'int', nullable: true })
  duration!: number | null;

  @Column({ type: 'text' })
  status!: TaskStatus;

  @Column({ name: 'task_details', type: 'jsonb', nullable: true })
  taskDetails!: Record<string, unknown> | null;

  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;

  /** Newest event time seen for the run; the stale-run sweep measures inactivity from it. */
  @Column({ name: 'last_event_at', type: 'timestamptz', nullable: true })
  lastEventAt!: Date | null;
}
