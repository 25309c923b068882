import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { CardEntity, PersistedInfoEntity, PersistedState } from '../entities';

/** States a refresh may start from (plus `refreshing` whose lease expired: left behind by a dead run). */
export const REFRESHABLE_STATES: PersistedState[] = ['creating', 'persisted', 'error'];

/** What a refresh claim overwrote, so a skipped refresh can put the row back exactly as it was. */
export type PersistedInfoSnapshot = Pick<
  PersistedInfoEntity,
  'state' | 'active' | 'refreshBegin' | 'refreshEnd' | 'stateChangeAt' | 'lastRunId'
>;

export interface PruneCandidate {
  info: PersistedInfoEntity;
  reason: 'deletable' | 'card-deleted' | 'card-archived' | 'not-a-model';
}

@Injectable()
export class PersistedInfoRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(PersistedInfoEntity);
  }

  findById(id: number, manager?: EntityManager): Promise<PersistedInfoEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  findByCardId(cardId: number, manager?: EntityManager): Promise<PersistedInfoEntity | null> {
    return this.repo(manager).findOneBy({ cardId });
  }

  findByDatabase(
    databaseId: number,
    states?: PersistedState[],
    manager?: EntityManager,
  ): Promise<PersistedInfoEntity[]> {
    return this.repo(manager).find({
      where: { databaseId, ...(states ? { state: In(states) } : {}) },
      order: { id: 'ASC' },
    });
  }

  create(values: Partial<PersistedInfoEntity>, manager?: EntityManager): Promise<PersistedInfoEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create({ stateChangeAt: new Date(), ...values }));
  }

  /** Changes state and stamps state_change_at; extra columns are written in the same statement. */
  async transition(
    id: number,
    state: PersistedState,
    extra: Partial<PersistedInfoEntity> = {},
    manager?: EntityManager,
  ): Promise<void> {
    await this.repo(manager).update({ id }, { ...extra, state, stateChangeAt: new Date() });
  }

  /** Marks every row of one database (or all) deletable, except rows already off. */
  async markDeletable(databaseId: number | 'all', manager?: EntityManager): Promise<number> {
    const qb = this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({ state: 'deletable', active: false, stateChangeAt: () => 'now()' })
      .where(`state NOT IN ('off', 'deletable')`);
    if (databaseId !== 'all') qb.andWhere('database_id = :databaseId', { databaseId });
    const r = await qb.execute();
    return r.affected ?? 0;
  }

  // ---- refresher ----------------------------------------------------------------------------------------

  /** Non-archived models of a database that have no persisted_info row yet. */
  findModelsWithoutRow(databaseId: number, manager?: EntityManager): Promise<CardEntity[]> {
    return (manager ?? this.ds.manager)
      .getRepository(CardEntity)
      .createQueryBuilder('c')
      .where('c.database_id = :databaseId', { databaseId })
      .andWhere(`c.type = 'model' AND NOT c.archived`)
      .andWhere('NOT EXISTS (SELECT 1 FROM persisted_info p WHERE p.card_id = c.id)')
      .orderBy('c.id', 'ASC')
      .getMany();
  }

  /** Inserts a row unless the card already has one (concurrent creators); returns the row either way. */
  async createIfMissing(
    values: Partial<PersistedInfoEntity> & { cardId: number },
    manager?: EntityManager,
  ): Promise<PersistedInfoEntity> {
    await this.repo(manager)
      .createQueryBuilder()
      .insert()
      .values({ stateChangeAt: new Date(), ...values })
      .orIgnore()
      .execute();
    return this.repo(manager).findOneByOrFail({ cardId: values.cardId });
  }

  /**
   * Rows a database run should refresh: refreshable state or `refreshing`, and whose card is still a non-archived
   * model. `refreshing` rows are included whoever holds them: a dead run's (lease expired), this refresher's own
   * earlier attempt that failed mid-way (e.g. the app database connection dropped), or a live lease that
   * `claimForRefresh` callers wait out (a killed replica's lease runs on for up to one lease period). Leaving them
   * out would complete the run without them, silently, and leave them `refreshing`.
   */
  findRefreshCandidates(databaseId: number, manager?: EntityManager): Promise<PersistedInfoEntity[]> {
    return this.repo(manager)
      .createQueryBuilder('p')
      .innerJoin(CardEntity, 'c', 'c.id = p.card_id')
      .where('p.database_id = :databaseId', { databaseId })
      .andWhere(`c.type = 'model' AND NOT c.archived`)
      .andWhere(`(p.state IN (:...states) OR p.state = 'refreshing')`, { states: REFRESHABLE_STATES })
      .orderBy('p.id', 'ASC')
      .getMany();
  }

  /**
   * Atomically re-checks the row and takes it for a refresh: state refreshable (or a dead run's `refreshing`),
   * and no live lease of another owner. Returns the row as it was before (for a skip) and after, or null.
   */
  async claimForRefresh(
    id: number,
    owner: string,
    leaseMs: number,
    runId: string,
    keepActive: boolean,
  ): Promise<{ before: PersistedInfoSnapshot; after: PersistedInfoEntity } | null> {
    // one statement (row lock, re-check and update together): this runs once per model refreshed
    const [rows] = await this.ds.query<[Record<string, unknown>[], number]>(
      `WITH old AS (
         SELECT id, state, active, refresh_begin, refresh_end, state_change_at, last_run_id
           FROM persisted_info
          WHERE id = $1 AND card_id IS NOT NULL
            AND (state = ANY($2) OR state = 'refreshing')
            AND (lease_expires_at IS NULL OR lease_expires_at < now() OR lease_owner = $3)
          FOR UPDATE)
       UPDATE persisted_info p
          SET state = 'refreshing', active = p.active AND $5, refresh_begin = now(), refresh_end = NULL,
              state_change_at = now(), lease_owner = $3, lease_expires_at = now() + $4 * interval '1 millisecond',
              last_run_id = $6
         FROM old
        WHERE p.id = old.id
       RETURNING p.*, old.state AS old_state, old.active AS old_active, old.refresh_begin AS old_refresh_begin,
                 old.refresh_end AS old_refresh_end, old.state_change_at AS old_state_change_at,
                 old.last_run_id AS old_last_run_id`,
      [id, REFRESHABLE_STATES, owner, leaseMs, keepActive, runId],
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    const before: PersistedInfoSnapshot = {
      state: r.old_state as PersistedState,
      active: r.old_active as boolean,
      refreshBegin: r.old_refresh_begin as Date | null,
      refreshEnd: r.old_refresh_end as Date | null,
      stateChangeAt: r.old_state_change_at as Date | null,
      lastRunId: r.old_last_run_id as string | null,
    };
    return { before, after: this.fromRaw(r) };
  }

  /** Maps a raw `persisted_info` row (column names) to the entity (property names). */
  private fromRaw(raw: Record<string, unknown>): PersistedInfoEntity {
    const entity = new PersistedInfoEntity();
    for (const c of this.ds.getMetadata(PersistedInfoEntity).columns) {
      (entity as unknown as Record<string, unknown>)[c.propertyName] = raw[c.databaseName];
    }
    return entity;
  }

  /** Extends this owner's lease; false when the row is no longer ours. */
  async renewLease(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.ds.query<[unknown, number]>(
      `UPDATE persisted_info SET lease_expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND lease_owner = $2`,
      [id, owner, leaseMs],
    );
    return r[1] > 0;
  }

  /** Ends this owner's refresh: writes the outcome, clears the lease. False when the lease was lost. */
  async finishRefresh(
    id: number,
    owner: string,
    state: 'persisted' | 'error',
    extra: Partial<PersistedInfoEntity>,
  ): Promise<boolean> {
    const r = await this.repo()
      .createQueryBuilder()
      .update()
      .set({
        ...extra,
        state,
        refreshEnd: () => 'now()',
        stateChangeAt: () => 'now()',
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where('id = :id AND lease_owner = :owner', { id, owner })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  /** Puts a claimed row back as it was (a skipped refresh leaves the state unchanged). */
  async releaseClaim(id: number, owner: string, before: PersistedInfoSnapshot): Promise<boolean> {
    const r = await this.repo()
      .createQueryBuilder()
      .update()
      .set({ ...before, leaseOwner: null, leaseExpiresAt: null })
      .where('id = :id AND lease_owner = :owner', { id, owner })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  /** Lease state of one row (for waiting on another refresher's live lease). */
  async leaseOf(id: number): Promise<{ owner: string | null; expiresInMs: number | null } | null> {
    const rows = await this.ds.query<{ lease_owner: string | null; ms: number | null }[]>(
      `SELECT lease_owner, (extract(epoch FROM lease_expires_at - now()) * 1000)::float8 AS ms
         FROM persisted_info WHERE id = $1`,
      [id],
    );
    return rows.length ? { owner: rows[0].lease_owner, expiresInMs: rows[0].ms } : null;
  }

  /** True when another owner holds a live lease on a row of this database (a refresh may be running). */
  async hasLiveForeignLease(databaseId: number, owner: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM persisted_info
        WHERE database_id = $1 AND lease_expires_at > now() AND lease_owner IS DISTINCT FROM $2 LIMIT 1`,
      [databaseId, owner],
    );
    return rows.length > 0;
  }

  /**
   * Takes over rows left `refreshing` by a dead run (lease expired): back to `persisted` when the old table is
   * still serving (active), else `error`. Returns the rows taken over.
   */
  async takeOverExpiredLeases(databaseId?: number): Promise<PersistedInfoEntity[]> {
    // UPDATE … RETURNING yields [rows, affected] through TypeORM's pg driver
    const [rows] = await this.ds.query<[{ id: number }[], number]>(
      `UPDATE persisted_info
          SET state = CASE WHEN active THEN 'persisted' ELSE 'error' END,
              error = CASE WHEN active THEN error
                      ELSE 'refresh interrupted: refresher ' || coalesce(lease_owner, '?') || ' stopped' END,
              state_change_at = now(), lease_owner = NULL, lease_expires_at = NULL, last_run_id = NULL
        WHERE state = 'refreshing' AND (lease_expires_at IS NULL OR lease_expires_at < now())
          AND ($1::int IS NULL OR database_id = $1)
        RETURNING id`,
      [databaseId ?? null],
    );
    if (rows.length === 0) return [];
    return this.repo().findBy({ id: In(rows.map((r) => r.id)) });
  }

  /**
   * Prune candidates: deletable for longer than the grace period, or whose card is deleted, archived or no
   * longer a model.
   */
  async findPruneCandidates(graceMs: number): Promise<PruneCandidate[]> {
    const rows = await this.repo()
      .createQueryBuilder('p')
      .leftJoin(CardEntity, 'c', 'c.id = p.card_id')
      .addSelect(
        `CASE WHEN p.card_id IS NULL OR c.id IS NULL THEN 'card-deleted'
              WHEN c.archived THEN 'card-archived'
              WHEN c.type <> 'model' THEN 'not-a-model'
              ELSE 'deletable' END`,
        'reason',
      )
      .where(
        `(p.state = 'deletable' AND p.state_change_at < now() - :graceMs * interval '1 millisecond')
          OR p.card_id IS NULL OR c.id IS NULL OR c.archived OR c.type <> 'model'`,
        { graceMs },
      )
      .orderBy('p.database_id', 'ASC')
      .addOrderBy('p.id', 'ASC')
      .getRawAndEntities();
    return rows.entities.map((info, i) => ({
      info,
      reason: (rows.raw[i] as { reason: PruneCandidate['reason'] }).reason,
    }));
  }

  /** Takes a lease for pruning a row unless a live refresh holds it. */
  async claimForPrune(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.ds.query<[unknown, number]>(
      `UPDATE persisted_info SET lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND (lease_expires_at IS NULL OR lease_expires_at < now() OR lease_owner = $2)`,
      [id, owner, leaseMs],
    );
    return r[1] > 0;
  }

  /** After a prune drop: deletes the row, or keeps an `off` row (inactive, lease cleared). */
  async finishPrune(id: number, owner: string): Promise<void> {
    await this.ds.query(`DELETE FROM persisted_info WHERE id = $1 AND lease_owner = $2 AND state <> 'off'`, [
      id,
      owner,
    ]);
    await this.ds.query(
      `UPDATE persisted_info SET active = false, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND lease_owner = $2`,
      [id, owner],
    );
  }

  /** Gives a prune lease back after a failed drop. */
  async releaseLease(id: number, owner: string): Promise<void> {
    await this.ds.query(
      `UPDATE persisted_info SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2`,
      [id, owner],
    );
  }
}
