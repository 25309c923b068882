import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type ApiTokenKind = 'bootstrap' | 'user';

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
}
