import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { parseInput } from '../common/ids';
import { presentTask } from '../http/presenters';
import { taskHistoryQuery } from '../http/schemas';
import { TaskHistoryUseCase } from './task-history.use-case';

@ApiTags('task-history')
@ApiBearerAuth()
@Controller('api/task-history')
export class TaskHistoryController {
  constructor(private readonly history: TaskHistoryUseCase) {}

  @Get()
  @ApiOperation({ summary: 'Task history, newest first.' })
  @ApiQuery({ name: 'task', required: false })
  @ApiQuery({ name: 'status', required: false, enum: ['started', 'success', 'failed', 'unknown'] })
  @ApiQuery({ name: 'db_id', required: false, schema: { type: 'integer', minimum: 1 } })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  })
  @ApiQuery({ name: 'offset', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  async page(@Query() query: unknown) {
    const q = parseInput(taskHistoryQuery, query, 'query');
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
