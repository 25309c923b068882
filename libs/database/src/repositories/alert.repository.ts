import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { AlertRunEntity, AlertRunResultEntity, AlertStateEntity } from '../entities';

/** Notifier alert bookkeeping: per-model announcement state and per-run collected results. */
@Injectable()
export class AlertRepository {
  constructor(private readonly ds: DataSource) {}

  private m(manager?: EntityManager): EntityManager {
    return manager ?? this.ds.manager;
  }

  /**
   * Serializes every transaction touching one run: its results arrive on two topics that may be handled
   * at the same moment, and the last one in must see the others to decide.
   */
  async lockRun(runId: string, manager: EntityManager): Promise<void> {
    await manager.query('select pg_advisory_xact_lock(hashtext($1))', [`alert-run:${runId}`]);
  }

  /**
   * Serializes the decisions of one database's runs (each reads and writes its models' announcement state),
   * always taken after the run lock.
   */
  async lockDatabaseAlerts(databaseId: number, manager: EntityManager): Promise<void> {
    await manager.query('select pg_advisory_xact_lock(hashtext($1))', [`alert-db:${databaseId}`]);
  }

  /** Returns false when the result was already recorded. */
  async insertResult(
    values: Omit<AlertRunResultEntity, 'createdAt'>,
    manager?: EntityManager,
  ): Promise<boolean> {
    const r = await this.m(manager)
      .createQueryBuilder()
      .insert()
      .into(AlertRunResultEntity)
      .values(values)
      .orIgnore()
      .returning(['runId'])
      .execute();
    return (r.raw as unknown[]).length > 0;
  }

  findResults(runId: string, manager?: EntityManager): Promise<AlertRunResultEntity[]> {
    return this.m(manager)
      .getRepository(AlertRunResultEntity)
      .find({ where: { runId }, order: { endedAt: 'ASC', cardId: 'ASC' } });
  }

  /** Returns false when the run was already recorded. */
  async insertRun(
    values: Omit<AlertRunEntity, 'completedAt' | 'decidedAt'>,
    manager?: EntityManager,
  ): Promise<boolean> {
    const r = await this.m(manager)
      .createQueryBuilder()
      .insert()
      .into(AlertRunEntity)
      .values(values)
      .orIgnore()
      .returning(['runId'])
      .execute();
    return (r.raw as unknown[]).length > 0;
  }

  findRun(runId: string, manager?: EntityManager): Promise<AlertRunEntity | null> {
    return this.m(manager).getRepository(AlertRunEntity).findOneBy({ runId });
  }

  async markRunDecided(runId: string, manager?: EntityManager): Promise<void> {
    await this.m(manager).getRepository(AlertRunEntity).update({ runId }, { decidedAt: new Date() });
  }

  /** Completed runs still waiting for some of their results after `graceMs`. */
  async findStaleUndecidedRuns(graceMs: number, limit = 50, manager?: EntityManager): Promise<string[]> {
    const rows = await this.m(manager).query<{ run_id: string }[]>(
      `select run_id from alert_run
        where decided_at is null and completed_at < now() - ($1::int * interval '1 millisecond')
        order by completed_at limit $2`,
      [graceMs, limit],
    );
    return rows.map((r) => r.run_id);
  }

  /**
   * Runs with failed models but no completion after `olderThanMs` (the refresher died mid-run): their
   * failures are announced anyway, from what arrived.
   */
  async findOrphanRunIds(olderThanMs: number, limit = 50, manager?: EntityManager): Promise<string[]> {
    const rows = await this.m(manager).query<{ run_id: string }[]>(
      `select r.run_id from alert_run_result r
        where r.outcome = 'error' and not exists (select 1 from alert_run a where a.run_id = r.run_id)
        group by r.run_id
       having max(r.created_at) < now() - ($1::int * interval '1 millisecond')
        limit $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.run_id);
  }

  findStates(cardIds: number[], manager?: EntityManager): Promise<AlertStateEntity[]> {
    if (cardIds.length === 0) return Promise.resolve([]);
    return this.m(manager)
      .getRepository(AlertStateEntity)
      .find({ where: { cardId: In(cardIds) }, lock: manager ? { mode: 'pessimistic_write' } : undefined });
  }

  async saveState(state: Omit<AlertStateEntity, 'updatedAt'>, manager?: EntityManager): Promise<void> {
    await this.m(manager)
      .getRepository(AlertStateEntity)
      .upsert({ ...state, updatedAt: new Date() }, ['cardId']);
  }

  /**
   * Deletes what is known about models that no longer exist (card deleted): nothing will be announced about
   * them again. A model that merely stays quiet keeps its row, so a failure after a long calm is still
   * judged against what was last announced.
   */
  async purgeStatesOfDeletedCards(): Promise<number> {
    const r = await this.ds.query<[unknown, number]>(
      'delete from alert_state s where not exists (select 1 from card c where c.id = s.card_id)',
    );
    return r[1];
  }

  /**
   * Deletes runs decided before the cutoff and old results whose run is gone (they only serve the decision);
   * a result stays as long as its run does.
   */
  async purgeDecidedBefore(cutoff: Date): Promise<number> {
    return this.ds.transaction(async (m) => {
      const runs = await m.query<[unknown, number]>(
        'delete from alert_run where decided_at < $1 returning run_id',
        [cutoff],
      );
      const results = await m.query<[unknown, number]>(
        `delete from alert_run_result r where r.created_at < $1
           and not exists (select 1 from alert_run a
                            where a.run_id = r.run_id and (a.decided_at is null or a.decided_at >= $1))`,
        [cutoff],
      );
      return runs[1] + results[1];
    });
  }
}
