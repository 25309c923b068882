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
