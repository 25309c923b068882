import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { CardEntity, PersistedInfoEntity } from '../entities';
import {
  FINISHED_STATES,
  PersistedState,
  TRANSITIONS,
  TransitionName,
} from '../state/persisted-state-machine';
import { completionClaimSql, RunCompletionClaim } from './run-completion.repository';

/** The transitions the admin (API) makes, each to a single state. */
export type AdminTransition = 'persist' | 'rebuild' | 'unpersist' | 'disable' | 'delete';

/** A refresh claim: the row before (for a skip) and after, with the build's fencing generation. */
export interface RefreshClaim {
  before: PersistedInfoSnapshot;
  after: PersistedInfoEntity;
  generation: number;
}

/** Identifies one build of one row: its lease owner and its fencing generation. */
export interface BuildLease {
  id: number;
  owner: string;
  generation: number;
}

const from = (name: TransitionName): string[] => [...TRANSITIONS[name].from];

/** What a refresh claim overwrote, so a skipped refresh can put the row back exactly as it was. */
export type PersistedInfoSnapshot = Pick<
  PersistedInfoEntity,
  'state' | 'active' | 'refreshBegin' | 'refreshEnd' | 'stateChangeAt' | 'lastRunId'
>;

export interface PruneCandidate {
  info: PersistedInfoEntity;
  reason: 'deletable' | 'card-deleted' | 'card-archived' | 'not-a-model';
}

/** A model checked unchanged: its row's lease view, the signature and definition the check compared. */
export interface UnchangedMark {
  id: number;
  generation: number;
  signature: string;
  /** buildDefinitionHash of the card's resolved SQL, indexes and incremental settings at the check */
  buildHash: string;
  card: Pick<CardEntity, 'sql' | 'indexes' | 'incremental' | 'refreshKey'>;
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

  /**
   * An admin transition, guarded in SQL by the state machine (`state = ANY(<allowed from>)`). Clears any lease:
   * a refresh in flight loses its row (its lease renewal notices and aborts the build; its outcome write is
   * refused), so the admin's decision wins. Throws ILLEGAL_STATE_TRANSITION when the row is in a state the
   * transition does not start from (nothing is written); NOT_FOUND when the row is gone.
   */
  async transition(
    id: number,
    name: AdminTransition,
    extra: Partial<PersistedInfoEntity> = {},
    manager?: EntityManager,
  ): Promise<void> {
    const rule = TRANSITIONS[name];
    const r = await this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({
        ...extra,
        state: rule.to[0],
        stateChangeAt: () => 'now()',
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where('id = :id AND state = ANY(:from)', { id, from: from(name) })
      .execute();
    if ((r.affected ?? 0) > 0) return;
    const row = await this.findById(id, manager);
    if (!row) throw new DomainError(ErrorCode.NotFound, `persisted_info ${id} not found`);
    throw illegalTransition(name, id, row.state);
  }

  /**
   * Disables every live row of one database (or all): `disable` → deletable, lease cleared (refreshes in
   * flight are cancelled and cannot write their outcome).
   */
  async markDeletable(databaseId: number | 'all', manager?: EntityManager): Promise<number> {
    const qb = this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({
        state: TRANSITIONS.disable.to[0],
        active: false,
        stateChangeAt: () => 'now()',
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where('state = ANY(:from)', { from: from('disable') });
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
      .andWhere('p.state = ANY(:states)', { states: from('claim') })
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
  ): Promise<RefreshClaim | null> {
    // the same guarded statement as a batch claim (one owner for the claim rule)
    const claims = await this.claimAllForRefresh([{ id, keepActive }], owner, leaseMs, runId);
    return claims.get(id) ?? null;
  }

  /**
   * Claims several rows in ONE statement (a database run claims its next models together; a single claim is a
   * batch of one): each row is re-checked and taken under the same guard, with its own fencing generation from one
   * sequence (a build that lost the row can neither swap nor write over a newer one); rows locked in id order. A
   * `refreshing` row is claimable only once its lease expired (or it is our own); a row this very run already
   * finished (another refresher ran it at the same time) is done.
   * Returns the claims made, by row id; a row left out (not refreshable, or another refresher's live lease) is
   * not touched and the caller claims it on its own (which waits out a foreign lease).
   */
  async claimAllForRefresh(
    rows: { id: number; keepActive: boolean }[],
    owner: string,
    leaseMs: number,
    runId: string,
  ): Promise<Map<number, RefreshClaim>> {
    if (rows.length === 0) return new Map();
    // UPDATE … RETURNING yields [rows, affected] through TypeORM's pg driver
    const [claimed] = await this.ds.query<[Record<string, unknown>[], number]>(
      `WITH wanted AS (SELECT * FROM unnest($1::int[], $5::boolean[]) AS w(id, keep_active)),
       old AS (
         SELECT p.id, p.state, p.active, p.refresh_begin, p.refresh_end, p.state_change_at, p.last_run_id,
                w.keep_active
           FROM persisted_info p JOIN wanted w ON w.id = p.id
          WHERE p.card_id IS NOT NULL
            AND p.state = ANY($2)
            AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now() OR p.lease_owner = $3)
            AND NOT (p.last_run_id IS NOT DISTINCT FROM $6::uuid AND p.state = ANY($8))
          ORDER BY p.id
          FOR UPDATE OF p)
       UPDATE persisted_info p
          SET state = $7, active = p.active AND old.keep_active, refresh_begin = now(), refresh_end = NULL,
              state_change_at = now(), lease_owner = $3, lease_expires_at = now() + $4 * interval '1 millisecond',
              last_run_id = $6, generation = nextval('persisted_info_generation_seq')
         FROM old
        WHERE p.id = old.id
       RETURNING p.*, old.state AS old_state, old.active AS old_active, old.refresh_begin AS old_refresh_begin,
                 old.refresh_end AS old_refresh_end, old.state_change_at AS old_state_change_at,
                 old.last_run_id AS old_last_run_id`,
      [
        rows.map((r) => r.id),
        from('claim'),
        owner,
        leaseMs,
        rows.map((r) => r.keepActive),
        runId,
        TRANSITIONS.claim.to[0],
        [...FINISHED_STATES],
      ],
    );
    return new Map(claimed.map((r) => [Number(r.id), this.claimFromRaw(r)]));
  }

  private claimFromRaw(r: Record<string, unknown>): RefreshClaim {
    const before: PersistedInfoSnapshot = {
      state: r.old_state as PersistedState,
      active: r.old_active as boolean,
      refreshBegin: r.old_refresh_begin as Date | null,
      refreshEnd: r.old_refresh_end as Date | null,
      stateChangeAt: r.old_state_change_at as Date | null,
      lastRunId: r.old_last_run_id as string | null,
    };
    const after = this.fromRaw(r);
    return { before, after, generation: after.generation };
  }

  /** Maps a raw `persisted_info` row (column names) to the entity (property names). */
  private fromRaw(raw: Record<string, unknown>): PersistedInfoEntity {
    const entity = new PersistedInfoEntity();
    for (const c of this.ds.getMetadata(PersistedInfoEntity).columns) {
      (entity as unknown as Record<string, unknown>)[c.propertyName] = raw[c.databaseName];
    }
    return entity;
  }

  /**
   * Extends this build's lease; false when the row is no longer this build's (turned off, taken over by a newer
   * generation): the build must stop.
   */
  async renewLease(lease: BuildLease, leaseMs: number): Promise<boolean> {
    const r = await this.ds.query<[unknown, number]>(
      `UPDATE persisted_info SET lease_expires_at = now() + $4 * interval '1 millisecond'
        WHERE id = $1 AND lease_owner = $2 AND generation = $3 AND state = ANY($5)`,
      [lease.id, lease.owner, lease.generation, leaseMs, from('succeed')],
    );
    return r[1] > 0;
  }

  /**
   * Ends this build's refresh (`succeed` or `fail`): writes the outcome and clears the lease, guarded by state,
   * owner and generation. False when the row is no longer this build's: nothing is written.
   */
  async finishRefresh(
    lease: BuildLease,
    outcome: 'succeed' | 'fail',
    extra: Partial<PersistedInfoEntity>,
  ): Promise<boolean> {
    const { sql, params } = this.finishSql(lease, outcome, extra);
    const r = await this.ds.query<[unknown, number]>(sql, params);
    return r[1] > 0;
  }

  /**
   * finishRefresh and the run's completion claim (RunCompletionRepository.claim: the same statement text) in ONE
   * statement, so one transaction and one round trip end an individual run's model: both are written or neither.
   * `finished`: the outcome was written (as finishRefresh's result); `won`: this refresher may publish the run's
   * completion (the claim is taken whether or not the row was still this build's, as when claimed on its own).
   */
  async finishRefreshAndClaimCompletion(
    lease: BuildLease,
    outcome: 'succeed' | 'fail',
    extra: Partial<PersistedInfoEntity>,
    completion: RunCompletionClaim,
  ): Promise<{ finished: boolean; won: boolean }> {
    const { sql, params } = this.finishSql(lease, outcome, extra);
    const claim = completionClaimSql(completion, (v) => {
      params.push(v);
      return `$${params.length}`;
    });
    // data-modifying WITH queries run to completion whether or not the main statement reads them
    const [row] = await this.ds.query<{ finished: number; won: number }[]>(
      `WITH finish AS (${sql} RETURNING 1), completion AS (${claim})
       SELECT (SELECT count(*) FROM finish)::int AS finished, (SELECT count(*) FROM completion)::int AS won`,
      params,
    );
    return { finished: row.finished > 0, won: row.won > 0 };
  }

  /** The guarded outcome write of finishRefresh (an UPDATE without RETURNING) and its parameters. */
  private finishSql(
    lease: BuildLease,
    outcome: 'succeed' | 'fail',
    extra: Partial<PersistedInfoEntity>,
  ): { sql: string; params: unknown[] } {
    // plain SQL (this runs once per model refreshed): the outcome's columns, then the state change and the lease
    const params: unknown[] = [
      lease.id,
      lease.owner,
      lease.generation,
      from(outcome),
      TRANSITIONS[outcome].to[0],
    ];
    const sets: string[] = [];
    for (const [property, value] of Object.entries(extra)) {
      if (value === undefined) continue;
      const column = this.column(property);
      params.push(column.json && value !== null ? JSON.stringify(value) : value);
      sets.push(`${column.quoted} = $${params.length}`);
    }
    // what the scheduler expects the next build to take (freshness targets): claim to success, unless the
    // caller measured it (a claim made ahead of the build)
    if (outcome === 'succeed' && extra.lastBuildMs === undefined)
      sets.push(
        'last_build_ms = least(2147483647, greatest(0, round(extract(epoch from (now() - refresh_begin)) * 1000)))::int',
      );
    return {
      sql: `UPDATE persisted_info
          SET ${[...sets, 'state = $5', 'refresh_end = now()', 'state_change_at = now()', 'lease_owner = NULL', 'lease_expires_at = NULL'].join(', ')}
        WHERE id = $1 AND lease_owner = $2 AND generation = $3 AND state = ANY($4)`,
      params,
    };
  }

  private columns: Map<string, { quoted: string; json: boolean }> | null = null;

  /** An entity property's column (quoted name; json: written as JSON text). */
  private column(property: string): { quoted: string; json: boolean } {
    this.columns ??= new Map(
      this.ds
        .getMetadata(PersistedInfoEntity)
        .columns.map((c) => [
          c.propertyName,
          { quoted: `"${c.databaseName}"`, json: c.type === 'jsonb' || c.type === 'json' },
        ]),
    );
    const column = this.columns.get(property);
    if (!column) throw new DomainError(ErrorCode.Internal, `persisted_info has no column for ${property}`);
    return column;
  }

  /**
   * Change detection: records that these models' inputs were verified unchanged (as of `freshAsOf`) without
   * building them. Guarded like a success write: only a row still `persisted`, active, unleased, of the generation,
   * with the very input signature the check compared and last built from the definition the check saw (`buildHash`),
   * whose card still has that definition (SQL, indexes, incremental settings, refresh key: compared by the database,
   * so an edit between the check and this write is never marked fresh); `last_success_at` only moves forward.
   * Returns the rows written.
   */
  async markUnchanged(rows: UnchangedMark[], freshAsOf: Date): Promise<Set<number>> {
    if (rows.length === 0) return new Set();
    const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
    // TypeORM answers an UPDATE on PostgreSQL with [rows, affected]
    const [written] = await this.ds.query<[{ id: number }[], number]>(
      `UPDATE persisted_info p
          SET last_success_at = GREATEST(coalesce(p.last_success_at, $1), $1)
         FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
              AS u(id, generation, signature, build_hash, query_sql, indexes, incremental, refresh_key)
        WHERE p.id = u.id AND p.generation = u.generation AND p.input_signature = u.signature
          AND p.build_hash = u.build_hash
          AND p.state = 'persisted' AND p.active AND p.lease_owner IS NULL
          AND EXISTS (SELECT 1 FROM card c
                       WHERE c.id = p.card_id AND c.type = 'model' AND NOT c.archived
                         AND c.query_sql = u.query_sql
                         AND c.indexes IS NOT DISTINCT FROM u.indexes::jsonb
                         AND c.incremental IS NOT DISTINCT FROM u.incremental::jsonb
                         AND c.refresh_key IS NOT DISTINCT FROM u.refresh_key)
       RETURNING p.id`,
      [
        freshAsOf,
        rows.map((r) => r.id),
        rows.map((r) => r.generation),
        rows.map((r) => r.signature),
        rows.map((r) => r.buildHash),
        rows.map((r) => r.card.sql),
        rows.map((r) => json(r.card.indexes)),
        rows.map((r) => json(r.card.incremental)),
        rows.map((r) => r.card.refreshKey),
      ],
    );
    return new Set(written.map((r) => Number(r.id)));
  }

  /** Puts a claimed row back as it was (a skipped refresh leaves the state unchanged), if still this build's. */
  async releaseClaim(lease: BuildLease, before: PersistedInfoSnapshot): Promise<boolean> {
    if (!(TRANSITIONS.release.to as readonly PersistedState[]).includes(before.state)) {
      throw illegalTransition('release', lease.id, before.state);
    }
    const r = await this.repo()
      .createQueryBuilder()
      .update()
      .set({ ...before, leaseOwner: null, leaseExpiresAt: null })
      .where('id = :id AND lease_owner = :owner AND generation = :generation AND state = ANY(:from)', {
        ...lease,
        from: from('release'),
      })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  /** Current state, owner and generation of a row (to tell why a build lost it). */
  async leaseView(
    id: number,
  ): Promise<{ state: PersistedState; owner: string | null; generation: number } | null> {
    const rows = await this.ds.query<
      { state: PersistedState; lease_owner: string | null; generation: number }[]
    >('SELECT state, lease_owner, generation FROM persisted_info WHERE id = $1', [id]);
    return rows.length
      ? { state: rows[0].state, owner: rows[0].lease_owner, generation: rows[0].generation }
      : null;
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

  /**
   * Of these build generations, the ones whose row is still `refreshing` under a live lease with exactly that
   * generation (a build that lost its row — taken over, unpersisted, superseded — is not live: it cannot swap).
   */
  async liveGenerations(generations: number[]): Promise<Set<number>> {
    if (generations.length === 0) return new Set();
    const rows = await this.ds.query<{ generation: number }[]>(
      `SELECT generation FROM persisted_info
        WHERE generation = ANY($1::int[]) AND state = ANY($2) AND lease_expires_at > now()`,
      [generations, from('succeed')],
    );
    return new Set(rows.map((r) => Number(r.generation)));
  }

  /**
   * Takes over rows left `refreshing` by a dead run (lease expired): back to `persisted` when the old table is
   * still serving (active), else `error`. Returns the rows taken over.
   */
  async takeOverExpiredLeases(databaseId?: number): Promise<PersistedInfoEntity[]> {
    // UPDATE … RETURNING yields [rows, affected] through TypeORM's pg driver
    const [rows] = await this.ds.query<[{ id: number }[], number]>(
      `UPDATE persisted_info
          SET state = CASE WHEN active THEN $2 ELSE $3 END,
              error = CASE WHEN active THEN error
                      ELSE 'refresh interrupted: refresher ' || coalesce(lease_owner, '?') || ' stopped' END,
              state_change_at = now(), lease_owner = NULL, lease_expires_at = NULL, last_run_id = NULL
        WHERE state = ANY($4) AND (lease_expires_at IS NULL OR lease_expires_at < now())
          AND ($1::int IS NULL OR database_id = $1)
        RETURNING id`,
      [databaseId ?? null, TRANSITIONS.takeOver.to[0], TRANSITIONS.takeOver.to[1], from('takeOver')],
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
        `(p.state = :deletable AND p.state_change_at < now() - :graceMs * interval '1 millisecond')
          OR p.card_id IS NULL OR c.id IS NULL OR c.archived OR c.type <> 'model'`,
        { graceMs, deletable: TRANSITIONS.disable.to[0] },
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
    await this.ds.query(`DELETE FROM persisted_info WHERE id = $1 AND lease_owner = $2 AND state = ANY($3)`, [
      id,
      owner,
      from('prune'),
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

function illegalTransition(name: TransitionName, id: number, state: PersistedState): DomainError {
  const rule = TRANSITIONS[name];
  return new DomainError(
    ErrorCode.IllegalStateTransition,
    `persisted_info ${id} is ${state}: '${name}' (${rule.by}) only goes from ${rule.from.join(', ')}`,
    { persistedInfoId: id, state, transition: name, allowedFrom: [...rule.from] },
  );
}
