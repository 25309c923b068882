import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  SecretBox,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
  sourceConnectionSettings,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { CanPersistResult, SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';
import { ApiConfig } from '../config';

export interface CanPersistOutcome {
  db: SourceDatabaseEntity;
  schemaName: string;
  result: CanPersistResult;
}

/**
 * Runs the can-persist check of one database on its source server (404 when unknown): the one runner behind
 * persist (which refuses on failure) and the console's step-by-step check (which changes no setting).
 */
@Injectable()
export class CanPersistCheck {
  private readonly box: SecretBox;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly settings: SettingRepository,
    private readonly databases: SourceDatabaseRepository,
  ) {
    this.box = new SecretBox(config.secretsKey);
  }

  async run(databaseId: number): Promise<CanPersistOutcome> {
    const db = await this.databases.findById(databaseId);
    if (!db) throw new DomainError(ErrorCode.NotFound, `Database ${databaseId} not found.`);
    const [instanceUuid, settingsVersion] = await Promise.all([
      this.settings.get(SettingKey.InstanceUuid),
      this.settings.get(SettingKey.SettingsVersion),
    ]);
    const schemaName = this.sourceDb.cacheSchemaName(this.config.cache.schemaPrefix, instanceUuid, db.id);
    const driver = this.sourceDb.openSourceDriver(sourceConnectionSettings(db, this.box));
    try {
      const result = await driver.checkCanPersist({ schemaName, instanceUuid, settingsVersion });
      return { db, schemaName, result };
    } finally {
      await driver.close().catch(() => undefined);
    }
  }
}
