import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { PersistedInfoEntity, PersistedState } from '../entities';

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
}
