import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { SignInCodeEntity } from '../entities';

/** One-time console sign-in codes; only SHA-256 hashes are stored. */
@Injectable()
export class SignInCodeRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(SignInCodeEntity);
  }

  /** A new code valid for `lifetimeSeconds` from now (the database's clock, like the redeeming check). */
  async create(
    values: { codeHash: string; createdBy: string; lifetimeSeconds: number },
    manager?: EntityManager,
  ): Promise<SignInCodeEntity> {
    // codes long past their end are of no use, not even for the audit trail (the session row stays)
    await (manager ?? this.ds.manager).query(
      `delete from sign_in_code where expires_at < now() - interval '7 days'`,
    );
    const rows = await (manager ?? this.ds.manager).query<{ id: number }[]>(
      `insert into sign_in_code (code_hash, created_by, expires_at)
       values ($1, $2, now() + make_interval(secs => $3)) returning id`,
      [values.codeHash, values.createdBy, values.lifetimeSeconds],
    );
    return this.repo(manager).findOneByOrFail({ id: rows[0].id });
  }

  /**
   * Marks the code used if it is unused and unexpired, in one guarded UPDATE: of concurrent redeemers exactly
   * one gets the row, the others none. Returns the redeemed code, or null (unknown, used or expired).
   */
  async redeem(codeHash: string, manager?: EntityManager): Promise<{ id: number; createdBy: string } | null> {
    const rows = await (manager ?? this.ds.manager).query<unknown[]>(
      `update sign_in_code set used_at = now()
        where code_hash = $1 and used_at is null and expires_at > now()
        returning id, created_by`,
      [codeHash],
    );
    // pg returns [rows, count] for UPDATE … RETURNING through typeorm's query()
    const list = (Array.isArray(rows[0]) ? rows[0] : rows) as { id: number; created_by: string }[];
    return list[0] ? { id: list[0].id, createdBy: list[0].created_by } : null;
  }

  /** Records which session a redeemed code granted. */
  async recordSession(id: number, sessionTokenId: number, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, { sessionTokenId });
  }

  findByHash(codeHash: string, manager?: EntityManager): Promise<SignInCodeEntity | null> {
    return this.repo(manager).findOneBy({ codeHash });
  }
}
