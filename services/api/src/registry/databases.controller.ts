import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SourceDatabaseEntity, SourceTlsMode } from '@model-persistence/database';
import { idParams, parseInput } from '../common/ids';
import { presentDatabase } from '../http/presenters';
import { databaseCreateBody, databasePatchBody, openApiSchema } from '../http/schemas';
import { CacheSchemaNames } from './cache-schema-names';
import { DatabaseInput, DatabaseRegistryUseCase } from './database-registry.use-case';

type DatabaseBody = Partial<{
  name: string;
  engine: 'postgres' | 'mysql';
  host: string;
  port: number;
  db_name: string;
  user: string;
  password: string | null;
  statement_timeout_ms: number;
  tls_mode: SourceTlsMode;
  tls_ca_cert: string | null;
}>;

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
  @ApiBody({ schema: openApiSchema(databaseCreateBody) })
  async create(@Body() body: unknown) {
    const b = parseInput(databaseCreateBody, body, 'body');
    return this.present(await this.registry.create(toInput(b) as DatabaseInput));
  }

  @Get()
  async list() {
    return { data: await Promise.all((await this.registry.list()).map((d) => this.present(d))) };
  }

  @Get(':id')
  async get(@Param() params: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    return this.present(await this.registry.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Change a database. Changing engine, host, port or user drops the stored password unless the same request ' +
      'gives one (`password_cleared: true` says so): a password is never sent to a server it was not given for.',
  })
  @ApiBody({ schema: openApiSchema(databasePatchBody) })
  async update(@Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    const b = parseInput(databasePatchBody, body, 'body');
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
  async delete(@Param() params: unknown): Promise<void> {
    const { id } = parseInput(idParams, params, 'path');
    await this.registry.delete(id);
  }
}
