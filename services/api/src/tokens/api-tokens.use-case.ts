import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ApiTokenEntity, ApiTokenRepository } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { Actor } from '../common/actor';
import { hashToken, TokenService } from '../auth/token.service';

/** Prefix of generated tokens: recognisable by secret scanners and in logs that must redact them. */
export const TOKEN_PREFIX = 'mpt_';

/** 32 random bytes, base64url: a token nobody can guess, so a plain SHA-256 at rest is enough. */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Admin API tokens: create (the secret is returned once), list (never the secret), revoke. */
@Injectable()
export class ApiTokensUseCase {
  constructor(
    private readonly tokens: ApiTokenRepository,
    private readonly auth: TokenService,
  ) {}

  list(): Promise<ApiTokenEntity[]> {
    return this.tokens.list();
  }

  async create(name: string, actor: Actor): Promise<{ token: string; row: ApiTokenEntity }> {
    const token = generateToken();
    const row = await this.tokens.create({
      name,
      tokenHash: hashToken(token),
      kind: 'user',
      createdBy: actor.name,
    });
    return { token, row };
  }

  /** Revoked at once in this process (other api replicas within the verified-token cache time). */
  async revoke(id: number): Promise<ApiTokenEntity> {
    const row = await this.tokens.revoke(id, new Date());
    if (!row) throw new DomainError(ErrorCode.NotFound, `Token ${id} not found.`);
    this.auth.forget(row.tokenHash);
    return row;
  }
}
