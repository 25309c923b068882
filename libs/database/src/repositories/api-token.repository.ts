import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiTokenEntity } from '../entities';

/** Admin API tokens; only SHA-256 hashes are stored (the plain token is never persisted). */
@Injectable()
export class ApiTokenRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(ApiTokenEntity);
  }

  findByHash(tokenHash: string, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    return this.repo(manager).findOneBy({ tokenHash });
  }

  /** Inserts the hash unless it is already stored; returns true when inserted. */
  async insertIfAbsent(name: string, tokenHash: string, manager?: EntityManager): Promise<boolean> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      `insert into api_token (name, token_hash) values ($1, $2)
       on conflict (token_hash) do nothing returning id`,
      [name, tokenHash],
    );
    return rows.length > 0;
  }

  async touch(id: number, at: Date, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, { lastUsedAt: at });
  }
}
