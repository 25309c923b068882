import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type CardType = 'model' | 'question';

/** An index of a model's cache table, on columns the model's query returns. */
export interface ModelIndex {
  columns: string[];
  unique?: boolean;
}

/**
 * Incremental refresh: rows whose `checkpointColumn` is at least the newest kept checkpoint minus `lookback`
 * are read again and merged by `uniqueKey`. `lookback`: a number (numeric checkpoints) or a duration like
 * `2 hours` (time checkpoints); `fullRebuildCron`: Quartz cron of the periodic full rebuild (null: daily).
 */
export interface IncrementalSettings {
  checkpointColumn: string;
  uniqueKey: string[];
  lookback: number | string;
  fullRebuildCron: string | null;
}

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

  /** Indexes built on every build of the model's cache table (null: none). */
  @Column({ type: 'jsonb', nullable: true })
  indexes!: ModelIndex[] | null;

  /** Incremental refresh settings (null: every refresh is a full rebuild). */
  @Column({ type: 'jsonb', nullable: true })
  incremental!: IncrementalSettings | null;

  /**
   * Freshness target in seconds (API: ISO-8601 `max_staleness`): the scheduler requests a refresh in time for
   * the cache to stay within it (null: the schedule alone decides). CHECK: 60 … 31,536,000.
   */
  @Column({ name: 'max_staleness_seconds', type: 'integer', nullable: true })
  maxStalenessSeconds!: number | null;

  /**
   * Change detection: the model's own change query (validated like model SQL, run read-only); its result, hashed,
   * is the signature compared between refreshes. Null: the refresher reads table statistics itself.
   */
  @Column({ name: 'refresh_key', type: 'text', nullable: true })
  refreshKey!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
