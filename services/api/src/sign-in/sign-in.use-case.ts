import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { ApiTokenRepository, SignInCodeRepository, UnitOfWork } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { hashToken, TokenService } from '../auth/token.service';
import { Actor } from '../common/actor';
import { generateToken } from '../tokens/api-tokens.use-case';
import { SIGN_IN_LINK_SECONDS } from './sign-in.schemas';

/** Prefix of sign-in codes (recognisable in a leaked URL or log). */
export const SIGN_IN_CODE_PREFIX = 'mps_';
/** How long a console session lasts; signing out ends it earlier. */
export const SESSION_SECONDS = 12 * 60 * 60;

const SESSION_NAME_PREFIX = 'console session of ';

/** A session acts for the admin who minted the link (a link minted in a session names that session's admin). */
export function sessionName(createdBy: string): string {
  const owner = createdBy.startsWith(SESSION_NAME_PREFIX)
    ? createdBy.slice(SESSION_NAME_PREFIX.length)
    : createdBy;
  return `${SESSION_NAME_PREFIX}${owner}`.slice(0, 100);
}

/**
 * One-time console sign-in: an admin mints a short-lived code; the browser exchanges it, once, for a session token
 * (an api_token of kind `session` that expires); signing out revokes that session. Codes and tokens are stored as
 * SHA-256 hashes only (32 random bytes each: not guessable, so no salt or slow hash is needed).
 */
@Injectable()
export class SignInUseCase {
  constructor(
    private readonly codes: SignInCodeRepository,
    private readonly tokens: ApiTokenRepository,
    private readonly uow: UnitOfWork,
    private readonly auth: TokenService,
  ) {}

  async createLink(
    actor: Actor,
    lifetimeSeconds = SIGN_IN_LINK_SECONDS,
  ): Promise<{ code: string; expiresAt: Date }> {
    const code = `${SIGN_IN_CODE_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row = await this.codes.create({
      codeHash: hashToken(code),
      createdBy: actor.name,
      lifetimeSeconds,
    });
    return { code, expiresAt: row.expiresAt };
  }

  /**
   * Exchanges a code for a session token. The code is marked used by one guarded UPDATE in the same transaction
   * that creates the session: concurrent exchanges of one code give exactly one session, and a failed insert
   * leaves the code unused.
   */
  async signIn(code: string): Promise<{ token: string; name: string; expiresAt: Date }> {
    const codeHash = hashToken(code);
    return this.uow.run(async (m) => {
      const redeemed = await this.codes.redeem(codeHash, m);
      if (!redeemed) throw await this.refusal(codeHash, m);
      const token = generateToken();
      const row = await this.tokens.create(
        {
          name: sessionName(redeemed.createdBy),
          tokenHash: hashToken(token),
          kind: 'session',
          createdBy: redeemed.createdBy,
          expiresAt: new Date(Date.now() + SESSION_SECONDS * 1000),
        },
        m,
      );
      await this.codes.recordSession(redeemed.id, row.id, m);
      return { token, name: row.name, expiresAt: row.expiresAt! };
    });
  }

  /** Ends the caller's console session; an API or bootstrap token is never revoked by signing out. */
  async signOut(authorization: string | undefined): Promise<boolean> {
    const presented = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (!presented) return false;
    const hash = hashToken(presented);
    const revoked = await this.tokens.revokeSessionByHash(hash, new Date());
    this.auth.forget(hash);
    return revoked !== null;
  }

  /** Why a code was refused (read after the guarded UPDATE found nothing to redeem). */
  private async refusal(codeHash: string, m: EntityManager): Promise<DomainError> {
    // on the transaction's own connection: a burst of exchanges must not need two connections each
    const row = await this.codes.findByHash(codeHash, m);
    if (!row) return new DomainError(ErrorCode.SignInLinkUnknown, 'This sign-in link is not known.');
    if (row.usedAt) {
      return new DomainError(
        ErrorCode.SignInLinkUsed,
        'This sign-in link was already used; a link works once. Ask for a new one (npm run sign-in-link).',
      );
    }
    return new DomainError(
      ErrorCode.SignInLinkExpired,
      'This sign-in link has expired. Ask for a new one (npm run sign-in-link).',
    );
  }
}
