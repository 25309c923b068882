import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A one-time console sign-in code (SHA-256 hash only); redeemed once, before `expiresAt`, for a session token. */
@Entity({ name: 'sign_in_code' })
export class SignInCodeEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'code_hash', type: 'text' })
  codeHash!: string;

  /** The admin (API token name) who minted it; the session it grants acts for them. */
  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @Column({ name: 'session_token_id', type: 'integer', nullable: true })
  sessionTokenId!: number | null;
}
