import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { idParams, parseInput } from '../common/ids';
import { CanPersistCheckUseCase } from './can-persist-check.use-case';

@ApiTags('model-persistence')
@ApiBearerAuth()
@Controller('api/databases')
export class CanPersistCheckController {
  constructor(private readonly check: CanPersistCheckUseCase) {}

  @Post(':id/can-persist-check')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Run the can-persist check of a database step by step (create schema, create/read/drop a table, ' +
      'cache_info) and report each step; changes no setting.',
  })
  async run(@Param() params: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    return this.check.check(id);
  }
}
