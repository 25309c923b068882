import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { SettingKey, SettingRepository } from '@model-persistence/database';
import { ApiConfig } from '../config';
import { SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';

/**
 * The cache schema (MySQL: database) of a source database, shown in its details so an operator can create it
 * for a dedicated user before the first persist (docs/SECURITY.md).
 */
@Injectable()
export class CacheSchemaNames {
  private instanceUuid?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly settings: SettingRepository,
  ) {}

  async of(databaseId: number): Promise<string> {
    // the instance uuid is written once by the first migration and never changes
    this.instanceUuid ??= await this.settings.get(SettingKey.InstanceUuid);
    return this.sourceDb.cacheSchemaName(this.config.cache.schemaPrefix, this.instanceUuid, databaseId);
  }
}
