import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type SourceEngine = 'postgres' | 'mysql';

/** A source database whose models are persisted into cache tables inside it. */
@Entity({ name: 'database' })
export class SourceDatabaseEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  engine!: SourceEngine;

  @Column({ type: 'text' })
  host!: string;

  @Column({ type: 'int' })
  port!: number;

  @Column({ name: 'db_name', type: 'text' })
  dbName!: string;

  @Column({ name: 'user_name', type: 'text' })
  username!: string;

  /** AES-256-GCM ciphertext (see secret-box.ts); never returned by the API. */
  @Column({ name: 'password_encrypted', type: 'text', nullable: true })
  passwordEncrypted!: string | null;

  @Column({ name: 'statement_timeout_ms', type: 'int', default: 600_000 })
  statementTimeoutMs!: number;

  @Column({ name: 'persist_models_enabled', type: 'boolean', default: false })
  persistModelsEnabled!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
