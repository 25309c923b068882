import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Raw } from 'typeorm';
import { ApiTokenEntity, ApiTokenKind } from '../entities';

/** Admin API tokens; only SHA-256 hashes are stored (the plain token is never persisted). */
@Injectable()
export class ApiTokenRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(ApiTokenEntity);
  }

  /** A token that may authenticate: known, not revoked, and not expired (the database's clock decides). */
  findActiveByHash(tokenHash: string, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    return this.repo(manager).findOneBy({
      tokenHash,
      revokedAt: IsNull(),
      expiresAt: Raw((column) => `(${column} IS NULL OR ${column} > now())`),
    });
  }

  findByHash(tokenHash: string, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    return this.repo(manager).findOneBy({ tokenHash });
  }

  findById(id: number, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Every token, revoked ones included (their history stays visible); newest first. */
  list(manager?: EntityManager): Promise<ApiTokenEntity[]> {
    return this.repo(manager).find({ order: { id: 'DESC' } });
  }

  async create(
    values: {
      name: string;
      tokenHash: string;
      kind: ApiTokenKind;
      createdBy: string | null;
      expiresAt?: Date | null;
    },
    manager?: EntityManager,
  ): Promise<ApiTokenEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create(values));
  }

  /** Inserts the hash unless it is already stored; returns true when inserted. */
  async insertIfAbsent(
    name: string,
    tokenHash: string,
    kind: ApiTokenKind = 'user',
    manager?: EntityManager,
  ): Promise<boolean> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      `insert into api_token (name, token_hash, kind) values ($1, $2, $3)
       on conflict (token_hash) do nothing returning id`,
      [name, tokenHash, kind],
    );
    return rows.length > 0;
  }

  /** Revokes one token; returns it (null when unknown). Revoking twice keeps the first time. */
  async revoke(id: number, at: Date, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    await (manager ?? this.ds.manager).query(
      `update api_token set revoked_at = $2 where id = $1 and revoked_at is null`,
      [id, at],
    );
    return this.findById(id, manager);
  }

  /** Revokes the session token with this hash (never an API or bootstrap token); returns its id, or null. */
  async revokeSessionByHash(tokenHash: string, at: Date, manager?: EntityManager): Promise<number | null> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      `update api_token set revoked_at = $2
        where token_hash = $1 and kind = 'session' and revoked_at is null returning id`,
      [tokenHash, at],
    );
    const list = (Array.isArray(rows[0]) ? rows[0] : rows) as { id: number }[];
    return list[0]?.id ?? null;
  }

  /** Revokes every active bootstrap token except the one with `keepHash`; returns how many. */
  async revokeOtherBootstraps(keepHash: string, at: Date, manager?: EntityManager): Promise<number> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      `update api_token set revoked_at = $2
        where kind = 'bootstrap' and revoked_at is null and token_hash <> $1 returning id`,
      [keepHash, at],
    );
    // pg returns [rows, count] for UPDATE … RETURNING through typeorm's query()
    const list = Array.isArray(rows[0]) ? (rows[0] as unknown[]) : rows;
    return list.length;
  }

  async touch(id: number, at: Date, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, { lastUsedAt: at });
  }
}
