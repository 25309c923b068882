import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One row per (schedule, fire time): the unique key makes a fire publish once across scheduler replicas. */
@Entity({ name: 'schedule_claim' })
export class ScheduleClaimEntity {
  @PrimaryColumn({ name: 'schedule_key', type: 'text' })
  scheduleKey!: string;

  @PrimaryColumn({ name: 'fire_time', type: 'timestamptz' })
  fireTime!: Date;

  @Column({ name: 'claimed_by', type: 'text' })
  claimedBy!: string;

  @Column({ name: 'claimed_at', type: 'timestamptz', default: () => 'now()' })
  claimedAt!: Date;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;
}
