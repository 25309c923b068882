import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { presentTask } from '../http/presenters';
import { taskHistoryQuery } from '../http/schemas';
import { ZodQuery } from '../http/zod-validation';
import { TaskHistoryUseCase } from './task-history.use-case';

@ApiTags('task-history')
@ApiBearerAuth()
@Controller('api/task-history')
export class TaskHistoryController {
  constructor(private readonly history: TaskHistoryUseCase) {}

  @Get()
  @ApiOperation({ summary: 'Task history, newest first.' })
  async page(@ZodQuery(taskHistoryQuery) q: z.infer<typeof taskHistoryQuery>) {
    const page = await this.history.page({
      task: q.task,
      status: q.status,
      dbId: q.db_id,
      limit: q.limit,
      offset: q.offset,
    });
    return { ...page, data: page.data.map(presentTask) };
  }
}
