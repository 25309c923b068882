import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from '@model-persistence/config';
import { ApiTokenRepository } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { Actor } from '../common/actor';

export const BOOTSTRAP_TOKEN_NAME = 'bootstrap';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;
// last_used_at is informational: write it at most once a minute per token, not on every request
const TOUCH_EVERY_MS = 60_000;
/**
 * A verified hash is remembered this long, so a busy client costs no database round trip per request.
 * Tokens are only ever added by the API; one deleted from api_token by hand stops working within this time.
 */
export const VERIFIED_TTL_MS = 10_000;
const MAX_VERIFIED = 1000;

/** Bearer tokens: only SHA-256 hashes are stored; the bootstrap token's hash is inserted at start-up. */
@Injectable()
export class TokenService implements OnApplicationBootstrap {
  private readonly logger = new Logger(TokenService.name);
  private readonly touched = new Map<number, number>();
  private readonly verified = new Map<string, { actor: Actor; until: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly tokens: ApiTokenRepository,
  ) {}

  /**
   * Registers the configured bootstrap token and revokes every previous bootstrap token, so rotating
   * API_BOOTSTRAP_TOKEN really retires the old one. A bootstrap token revoked through the API stays revoked.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.bootstrapToken) return;
    const hash = hashToken(this.config.bootstrapToken);
    if (await this.tokens.insertIfAbsent(BOOTSTRAP_TOKEN_NAME, hash, 'bootstrap')) {
      this.logger.log('bootstrap API token registered');
    }
    const revoked = await this.tokens.revokeOtherBootstraps(hash, new Date());
    if (revoked > 0) this.logger.log(`previous bootstrap API token revoked (${revoked})`);
    const current = await this.tokens.findByHash(hash);
    if (current?.revokedAt) {
      this.logger.warn(
        'API_BOOTSTRAP_TOKEN was revoked through the API and does not authenticate; set a new one',
      );
    }
  }

  /** Drops a revoked token from this process's verified cache at once (other replicas: within VERIFIED_TTL_MS). */
  forget(tokenHash: string): void {
    this.verified.delete(tokenHash);
  }

  /** Resolves the caller of an Authorization header value, or throws 401. */
  async authenticate(header: string | undefined): Promise<Actor> {
    const match = header ? BEARER.exec(header) : null;
    if (!match) {
      throw new DomainError(
        ErrorCode.Unauthorized,
        'Missing or malformed Authorization: Bearer <token> header.',
      );
    }
    const presented = hashToken(match[1]);
    const known = this.verified.get(presented);
    if (known && known.until > Date.now()) return known.actor;
    const row = await this.tokens.findActiveByHash(presented);
    // the lookup is by hash (an index probe), and the final comparison is constant-time on equal-length hashes
    if (!row || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(presented, 'hex'))) {
      throw new DomainError(ErrorCode.Unauthorized, 'Invalid API token.');
    }
    this.touch(row.id);
    const actor = { name: row.name };
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    // a session is never remembered past its end
    const until = Math.min(Date.now() + VERIFIED_TTL_MS, row.expiresAt?.getTime() ?? Infinity);
    this.verified.set(presented, { actor, until });
    return actor;
  }

  private touch(id: number): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    this.tokens.touch(id, new Date(now)).catch((e: unknown) => {
      this.logger.warn(`could not record token use: ${(e as Error).message}`);
    });
  }
}
