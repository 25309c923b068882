import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PrivilegeWarning, SourceDatabaseEntity } from '../entities';

@Injectable()
export class SourceDatabaseRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(SourceDatabaseEntity);
  }

  findById(id: number, manager?: EntityManager): Promise<SourceDatabaseEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  findAll(manager?: EntityManager): Promise<SourceDatabaseEntity[]> {
    return this.repo(manager).find({ order: { id: 'ASC' } });
  }

  findPersistEnabled(manager?: EntityManager): Promise<SourceDatabaseEntity[]> {
    return this.repo(manager).find({ where: { persistModelsEnabled: true }, order: { id: 'ASC' } });
  }

  /**
   * Expected refresh work per persist-enabled database, keyed by its id as a Kafka key: one for the run plus one
   * per model a run would build (not archived, persistence not turned off) — what a refresher's partition
   * assigner balances.
   */
  async refreshWeights(manager?: EntityManager): Promise<Map<string, number>> {
    const rows = await (manager ?? this.ds.manager).query<{ id: number; weight: string }[]>(
      `select d.id, 1 + count(c.id) as weight
         from "database" d
         left join card c on c.database_id = d.id and c.type = 'model' and not c.archived
              and not exists (select 1 from persisted_info p
                               where p.card_id = c.id and p.state in ('off', 'deletable'))
        where d.persist_models_enabled
        group by d.id`,
    );
    return new Map(rows.map((r) => [String(r.id), Number(r.weight)]));
  }

  create(values: Partial<SourceDatabaseEntity>, manager?: EntityManager): Promise<SourceDatabaseEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create(values));
  }

  async update(id: number, values: Partial<SourceDatabaseEntity>, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, values);
  }

  async delete(id: number, manager?: EntityManager): Promise<boolean> {
    const r = await this.repo(manager).delete({ id });
    return (r.affected ?? 0) > 0;
  }

  async setPersistEnabled(id: number | 'all', enabled: boolean, manager?: EntityManager): Promise<void> {
    const repo = this.repo(manager);
    if (id === 'all')
      await repo.createQueryBuilder().update().set({ persistModelsEnabled: enabled }).execute();
    else await repo.update({ id }, { persistModelsEnabled: enabled });
  }

  /** The least-privilege report of the last successful can-persist check (null: nothing outside the cache). */
  async setPrivilegeReport(
    id: number,
    warning: PrivilegeWarning | null,
    at: Date,
    manager?: EntityManager,
  ): Promise<void> {
    // jsonb through a parameter: typeorm's update() would need the object cast; a plain statement is clearer
    await (manager ?? this.ds.manager).query(
      `update "database" set privilege_warning = $2::jsonb, privilege_checked_at = $3 where id = $1`,
      [id, warning === null ? null : JSON.stringify(warning), at],
    );
  }
}
