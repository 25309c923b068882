import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SourceDatabaseEntity } from '@model-persistence/database';
import { z } from 'zod';
import { IdParams, idParams } from '../common/ids';
import { presentDatabase } from '../http/presenters';
import { databaseCreateBody, databasePatchBody } from '../http/schemas';
import { ZodBody, ZodParams } from '../http/zod-validation';
import { CacheSchemaNames } from './cache-schema-names';
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
    tlsMode: b.tls_mode,
    tlsCaCert: b.tls_ca_cert,
  };
}

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/databases')
export class DatabasesController {
  constructor(
    private readonly registry: DatabaseRegistryUseCase,
    private readonly cacheSchemas: CacheSchemaNames,
  ) {}

  /** The database as returned, with the name of its cache schema. */
  private async present(d: SourceDatabaseEntity) {
    return { ...presentDatabase(d), cache_schema: await this.cacheSchemas.of(d.id) };
  }

  @Post()
  @ApiOperation({
    summary: 'Register a source database (the password is encrypted at rest, never returned).',
  })
  async create(@ZodBody(databaseCreateBody) b: z.infer<typeof databaseCreateBody>) {
    return this.present(await this.registry.create(toInput(b) as DatabaseInput));
  }

  @Get()
  async list() {
    return { data: await Promise.all((await this.registry.list()).map((d) => this.present(d))) };
  }

  @Get(':id')
  async get(@ZodParams(idParams) { id }: IdParams) {
    return this.present(await this.registry.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Change a database. Changing engine, host, port or user drops the stored password unless the same request ' +
      'gives one (`password_cleared: true` says so): a password is never sent to a server it was not given for.',
  })
  async update(@ZodParams(idParams) { id }: IdParams, @ZodBody(databasePatchBody) b: DatabaseBody) {
    const { database, passwordCleared } = await this.registry.update(id, toInput(b));
    return {
      ...(await this.present(database)),
      password_cleared: passwordCleared,
      ...(passwordCleared
        ? {
            message:
              'The connection target changed, so the stored password was removed; set it again with PATCH { "password": … }.',
          }
        : {}),
    };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a database (409 while it still has persisted models with cache tables).' })
  async delete(@ZodParams(idParams) { id }: IdParams): Promise<void> {
    await this.registry.delete(id);
  }
}
