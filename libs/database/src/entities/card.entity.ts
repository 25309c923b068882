import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type CardType = 'model' | 'question';

/** A saved SQL query; only `model` cards are persisted. */
@Entity({ name: 'card' })
export class CardEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  @Column({ name: 'query_sql', type: 'text' })
  sql!: string;

  @Column({ type: 'text', default: 'model' })
  type!: CardType;

  @Column({ type: 'boolean', default: false })
  archived!: boolean;

  /** Quartz cron overriding the database's schedule for this model (null: follow the database). */
  @Column({ name: 'refresh_cron', type: 'text', nullable: true })
  refreshCron!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
