import { Injectable } from '@nestjs/common';
import { TaskHistoryEntity, TaskHistoryRepository, TaskStatus } from '@model-persistence/database';

export interface TaskHistoryPage {
  data: TaskHistoryEntity[];
  total: number;
  limit: number;
  offset: number;
}

/** Task history (projected from the event log by the history service), newest first. */
@Injectable()
export class TaskHistoryUseCase {
  constructor(private readonly history: TaskHistoryRepository) {}

  async page(q: {
    task?: string;
    status?: TaskStatus;
    dbId?: number;
    limit: number;
    offset: number;
  }): Promise<TaskHistoryPage> {
    const { rows, total } = await this.history.page(q);
    return { data: rows, total, limit: q.limit, offset: q.offset };
  }
}
