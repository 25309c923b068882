import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { CardEntity } from '../entities';

@Injectable()
export class CardRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(CardEntity);
  }

  findById(id: number, manager?: EntityManager): Promise<CardEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Non-archived models of a database. */
  findModelsOfDatabase(databaseId: number, manager?: EntityManager): Promise<CardEntity[]> {
    return this.repo(manager).find({
      where: { databaseId, type: 'model', archived: false },
      order: { id: 'ASC' },
    });
  }

  /** Models that carry their own refresh cron. */
  findWithCronOverride(manager?: EntityManager): Promise<CardEntity[]> {
    return this.repo(manager).find({
      where: { refreshCron: Not(IsNull()), type: 'model', archived: false },
      order: { id: 'ASC' },
    });
  }

  create(values: Partial<CardEntity>, manager?: EntityManager): Promise<CardEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create(values));
  }

  async update(id: number, values: Partial<CardEntity>, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, values);
  }

  async delete(id: number, manager?: EntityManager): Promise<boolean> {
    const r = await this.repo(manager).delete({ id });
    return (r.affected ?? 0) > 0;
  }
}
