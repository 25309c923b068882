import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { IdParams, idParams } from '../common/ids';
import { presentDatabase } from '../http/presenters';
import { databaseCreateBody, databasePatchBody } from '../http/schemas';
import { ZodBody, ZodParams } from '../http/zod-validation';
import { DatabaseInput, DatabaseRegistryUseCase } from './database-registry.use-case';

type DatabaseBody = z.infer<typeof databasePatchBody>;

function toInput(b: DatabaseBody): Partial<DatabaseInput> {
  return {
    name: b.name,
    engine: b.engine,
    host: b.host,
    port: b.port,
    dbName: b.db_name,
    user: b.user,
    password: b.password,
    statementTimeoutMs: b.statement_timeout_ms,
  };
}

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/databases')
export class DatabasesController {
  constructor(private readonly registry: DatabaseRegistryUseCase) {}

  @Post()
  @ApiOperation({
    summary: 'Register a source database (the password is encrypted at rest, never returned).',
  })
  async create(@ZodBody(databaseCreateBody) b: z.infer<typeof databaseCreateBody>) {
    return presentDatabase(await this.registry.create(toInput(b) as DatabaseInput));
  }

  @Get()
  async list() {
    return { data: (await this.registry.list()).map(presentDatabase) };
  }

  @Get(':id')
  async get(@ZodParams(idParams) { id }: IdParams) {
    return presentDatabase(await this.registry.get(id));
  }

  @Patch(':id')
  async update(@ZodParams(idParams) { id }: IdParams, @ZodBody(databasePatchBody) b: DatabaseBody) {
    return presentDatabase(await this.registry.update(id, toInput(b)));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a database (409 while it still has persisted models with cache tables).' })
  async delete(@ZodParams(idParams) { id }: IdParams): Promise<void> {
    await this.registry.delete(id);
  }
}
