import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type SourceEngine = 'postgres' | 'mysql';

/** How the source connection uses TLS (libpq's sslmode names; the same four apply to MySQL/MariaDB). */
export const SOURCE_TLS_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SourceTlsMode = (typeof SOURCE_TLS_MODES)[number];

/** What the can-persist check found the connection user may change outside its cache schema. */
export interface PrivilegeWarning {
  message: string;
  /** How many grants (privilege × object) were found. */
  count: number;
  /** A few of them, e.g. `{ privilege: 'INSERT', on: 'public.orders' }`. */
  examples: { privilege: string; on: string }[];
}

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

  @Column({ name: 'tls_mode', type: 'text', default: 'disable' })
  tlsMode!: SourceTlsMode;

  /** PEM CA certificate(s) the server certificate must chain to (public data, stored as is). */
  @Column({ name: 'tls_ca_cert', type: 'text', nullable: true })
  tlsCaCert!: string | null;

  /** Null when the last can-persist check found no write privilege outside the cache schema (or never ran). */
  @Column({ name: 'privilege_warning', type: 'jsonb', nullable: true })
  privilegeWarning!: PrivilegeWarning | null;

  @Column({ name: 'privilege_checked_at', type: 'timestamptz', nullable: true })
  privilegeCheckedAt!: Date | null;

  @Column({ name: 'persist_models_enabled', type: 'boolean', default: false })
  persistModelsEnabled!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
