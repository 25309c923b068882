import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { TaskHistoryEntity, TaskStatus } from '../entities';

export interface TaskHistoryQuery {
  task?: string;
  status?: TaskStatus;
  dbId?: number;
  limit: number;
  offset: number;
}

@Injectable()
export class TaskHistoryRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(TaskHistoryEntity);
  }

  findByRun(task: string, runId: string, manager?: EntityManager): Promise<TaskHistoryEntity | null> {
    return this.repo(manager).findOneBy({ task, runId });
  }

  /** Newest first. */
  async page(q: TaskHistoryQuery): Promise<{ rows: TaskHistoryEntity[]; total: number }> {
    const qb = this.repo().createQueryBuilder('t');
    if (q.task) qb.andWhere('t.task = :task', { task: q.task });
    if (q.status) qb.andWhere('t.status = :status', { status: q.status });
    if (q.dbId !== undefined) qb.andWhere('t.db_id = :dbId', { dbId: q.dbId });
    const [rows, total] = await qb
      .orderBy('t.started_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .take(q.limit)
      .skip(q.offset)
      .getManyAndCount();
    return { rows, total };
  }

  /** Keeps the newest `keep` rows; returns how many were deleted. */
  async trimTo(keep: number): Promise<number> {
    const r = await this.ds.query<[unknown, number]>(
      `delete from task_history where id in (
         select id from task_history order by started_at desc, id desc offset $1)`,
      [keep],
    );
    return r[1];
  }
}
