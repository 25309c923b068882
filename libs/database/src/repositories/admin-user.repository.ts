import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AdminUserEntity } from '../entities';

/** Admin addresses that receive failure alerts (besides the admin-email setting). */
@Injectable()
export class AdminUserRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(AdminUserEntity);
  }

  findAll(manager?: EntityManager): Promise<AdminUserEntity[]> {
    return this.repo(manager).find({ order: { id: 'ASC' } });
  }

  findActive(manager?: EntityManager): Promise<AdminUserEntity[]> {
    return this.repo(manager).find({ where: { active: true }, order: { id: 'ASC' } });
  }

  findById(id: number, manager?: EntityManager): Promise<AdminUserEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Case-insensitive, like the unique index admin_user_email_key. */
  async findByEmail(email: string, manager?: EntityManager): Promise<AdminUserEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('a')
      .where('lower(a.email) = lower(:email)', { email })
      .getOne();
  }

  create(values: Partial<AdminUserEntity>, manager?: EntityManager): Promise<AdminUserEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create(values));
  }

  async delete(id: number, manager?: EntityManager): Promise<boolean> {
    const r = await this.repo(manager).delete({ id });
    return (r.affected ?? 0) > 0;
  }
}
