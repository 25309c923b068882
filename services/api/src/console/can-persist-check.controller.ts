import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IdParams, idParams } from '../common/ids';
import { emptyBody } from '../http/schemas';
import { ZodBody, ZodParams } from '../http/zod-validation';
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
  async run(@ZodParams(idParams) { id }: IdParams, @ZodBody(emptyBody) _body: unknown) {
    return this.check.check(id);
  }
}
