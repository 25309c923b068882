import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** `session`: a console session granted by a one-time sign-in link; it expires (`expires_at`). */
export type ApiTokenKind = 'bootstrap' | 'user' | 'session';

/** Admin API tokens, stored as SHA-256 hashes only. A revoked token keeps its row (history) but never authenticates. */
@Entity({ name: 'api_token' })
export class ApiTokenEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'token_hash', type: 'text' })
  tokenHash!: string;

  /** `bootstrap`: registered from API_BOOTSTRAP_TOKEN at start-up (a new one revokes the previous). */
  @Column({ type: 'text', default: 'user' })
  kind!: ApiTokenKind;

  @Column({ name: 'created_by', type: 'text', nullable: true })
  createdBy!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  /** Set for sessions only (a database check): after it the token no longer authenticates. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;
}
