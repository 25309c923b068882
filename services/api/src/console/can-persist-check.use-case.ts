import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  SecretBox,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';
import { connectionInfo } from '../model-persistence/database-persistence.use-case';

/** The can-persist check's steps, in the order the drivers run them; a failure stops the check. */
export const CAN_PERSIST_STEPS = [
  { step: 'create-schema', label: 'Create the cache schema' },
  { step: 'create-table', label: 'Create a table in it' },
  { step: 'read-table', label: 'Read the table' },
  { step: 'drop-table', label: 'Delete the table' },
  { step: 'create-cache-info', label: 'Create the cache_info table' },
] as const;

export interface CanPersistReport {
  database_id: number;
  schema_name: string;
  ok: boolean;
  steps: { step: string; label: string; status: 'passed' | 'failed' | 'not-run'; message: string | null }[];
}

/**
 * Runs the can-persist check of one database without changing any setting, so the console can show each step
 * before the operator persists it (persist itself runs the same check again and refuses on failure).
 */
@Injectable()
export class CanPersistCheckUseCase {
  private readonly box: SecretBox;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly settings: SettingRepository,
    private readonly databases: SourceDatabaseRepository,
  ) {
    this.box = new SecretBox(config.secretsKey);
  }

  async check(databaseId: number): Promise<CanPersistReport> {
    const db = await this.databases.findById(databaseId);
    if (!db) throw new DomainError(ErrorCode.NotFound, `Database ${databaseId} not found.`);
    const [instanceUuid, settingsVersion] = await Promise.all([
      this.settings.get(SettingKey.InstanceUuid),
      this.settings.get(SettingKey.SettingsVersion),
    ]);
    const schemaName = this.sourceDb.cacheSchemaName(this.config.cache.schemaPrefix, instanceUuid, db.id);
    const driver = this.sourceDb.openSourceDriver(connectionInfo(db, this.box));
    try {
      const result = await driver.checkCanPersist({ schemaName, instanceUuid, settingsVersion });
      const failedAt = result.ok ? -1 : CAN_PERSIST_STEPS.findIndex((s) => s.step === result.step);
      return {
        database_id: db.id,
        schema_name: schemaName,
        ok: result.ok,
        steps: CAN_PERSIST_STEPS.map((s, i) => ({
          ...s,
          status: result.ok || i < failedAt ? 'passed' : i === failedAt ? 'failed' : 'not-run',
          message: !result.ok && i === failedAt ? result.message : null,
        })),
      };
    } finally {
      await driver.close().catch(() => undefined);
    }
  }
}
