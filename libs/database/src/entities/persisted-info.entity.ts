import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { PersistedState } from '../state/persisted-state-machine';

export interface FieldDefinition {
  fieldName: string;
  baseType: string;
}
export interface TableDefinition {
  tableName: string;
  fieldDefinitions: FieldDefinition[];
}

/** One row per persisted model: where its cache table lives and what state it is in. */
@Entity({ name: 'persisted_info' })
export class PersistedInfoEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'database_id', type: 'int' })
  databaseId!: number;

  /** Null once the card is deleted; prune then drops the table and the row. */
  @Column({ name: 'card_id', type: 'int', nullable: true })
  cardId!: number | null;

  @Column({ name: 'question_slug', type: 'text' })
  questionSlug!: string;

  @Column({ name: 'schema_name', type: 'text' })
  schemaName!: string;

  @Column({ name: 'table_name', type: 'text' })
  tableName!: string;

  @Column({ type: 'jsonb', nullable: true })
  definition!: TableDefinition | null;

  @Column({ name: 'query_hash', type: 'text', nullable: true })
  queryHash!: string | null;

  @Column({ type: 'boolean', default: false })
  active!: boolean;

  @Column({ type: 'text' })
  state!: PersistedState;

  @Column({ name: 'refresh_begin', type: 'timestamptz', nullable: true })
  refreshBegin!: Date | null;

  @Column({ name: 'refresh_end', type: 'timestamptz', nullable: true })
  refreshEnd!: Date | null;

  @Column({ name: 'state_change_at', type: 'timestamptz', nullable: true })
  stateChangeAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ type: 'text', nullable: true })
  creator!: string | null;

  /** End of the last successful refresh; staleness is measured from here. */
  @Column({ name: 'last_success_at', type: 'timestamptz', nullable: true })
  lastSuccessAt!: Date | null;

  /** Milliseconds of the last successful build, claim to success (the scheduler's expected build time). */
  @Column({ name: 'last_build_ms', type: 'integer', nullable: true })
  lastBuildMs!: number | null;

  /** Lease of the refresher working on this row (owner + expiry), so dead runs are detectable. */
  @Column({ name: 'lease_owner', type: 'text', nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column({ name: 'last_run_id', type: 'uuid', nullable: true })
  lastRunId!: string | null;

  /**
   * Fencing token: a new value from one sequence at every refresh claim (only grows). A build swaps its table in only if no newer
   * generation swapped first (checked inside the source database's swap), and writes its outcome only while the
   * row still carries its generation.
   */
  @Column({ type: 'integer', default: 0 })
  generation!: number;

  /** Hash of what an incremental merge depends on, as of the last full build (null: never built so). */
  @Column({ name: 'build_hash', type: 'text', nullable: true })
  buildHash!: string | null;

  /** Newest checkpoint value kept in the cache table (text); null: the next refresh is a full rebuild. */
  @Column({ type: 'text', nullable: true })
  checkpoint!: string | null;

  /** End of the last full build (incremental models: the full-rebuild cron counts from here). */
  @Column({ name: 'last_full_at', type: 'timestamptz', nullable: true })
  lastFullAt!: Date | null;

  /**
   * Signature of the model's inputs read just before its last successful build (change detection); null: none or
   * "cannot tell", so the next refresh builds.
   */
  @Column({ name: 'input_signature', type: 'text', nullable: true })
  inputSignature!: string | null;

  /** End of the last real build or merge ("since last build"); last_success_at also moves on a verified-unchanged check. */
  @Column({ name: 'last_built_at', type: 'timestamptz', nullable: true })
  lastBuiltAt!: Date | null;
}
