import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  PersistedInfoRepository,
  PrivilegeWarning,
  SecretBox,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
  sourceConnectionSettings,
  UnitOfWork,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { SourceConnectionInfo, SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';
import { ApiConfig } from '../config';
import { ChangeNotifier } from '../common/change-notifier';

export function connectionInfo(db: SourceDatabaseEntity, box: SecretBox): SourceConnectionInfo {
  return sourceConnectionSettings(db, box);
}

/** Turning persistence on and off for one source database. */
@Injectable()
export class DatabasePersistenceUseCase {
  private readonly box: SecretBox;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly uow: UnitOfWork,
    private readonly settings: SettingRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly notifier: ChangeNotifier,
  ) {
    this.box = new SecretBox(config.secretsKey);
  }

  /**
   * 400 when globally off, 404 unknown, 422 with the failing step when the can-persist check fails. A passed
   * check also reports what the connection user may change outside its cache schema (kept on the database).
   */
  async persist(databaseId: number): Promise<{ privilegeWarning: PrivilegeWarning | null }> {
    if (!(await this.settings.getBoolean(SettingKey.PersistedModelsEnabled))) {
      throw new DomainError(ErrorCode.PersistenceDisabled, 'Persisting models is not enabled.');
    }
    const db = await this.databases.findById(databaseId);
    if (!db) throw new DomainError(ErrorCode.NotFound, `Database ${databaseId} not found.`);
    const [instanceUuid, settingsVersion] = await Promise.all([
      this.settings.get(SettingKey.InstanceUuid),
      this.settings.get(SettingKey.SettingsVersion),
    ]);
    const schemaName = this.sourceDb.cacheSchemaName(this.config.cache.schemaPrefix, instanceUuid, db.id);
    const driver = this.sourceDb.openSourceDriver(connectionInfo(db, this.box));
    let privilegeWarning: PrivilegeWarning | null = null;
    try {
      const result = await driver.checkCanPersist({ schemaName, instanceUuid, settingsVersion });
      if (!result.ok) {
        throw new DomainError(ErrorCode.CanPersistCheckFailed, result.message, { step: result.step });
      }
      privilegeWarning = result.privilegeWarning ?? null;
    } finally {
      await driver.close().catch(() => undefined);
    }
    await this.databases.setPrivilegeReport(db.id, privilegeWarning, new Date());
    await this.databases.setPersistEnabled(db.id, true);
    await this.notifier.send(this.notifier.configChanged('database', db.id, 'updated'));
    return { privilegeWarning };
  }

  /** Rows of the database become deletable (prune drops their tables after the grace period). */
  async unpersist(databaseId: number): Promise<void> {
    const db = await this.databases.findById(databaseId);
    if (!db) throw new DomainError(ErrorCode.NotFound, `Database ${databaseId} not found.`);
    await this.uow.run(async (m) => {
      await this.persistedInfo.markDeletable(db.id, m);
      await this.databases.setPersistEnabled(db.id, false, m);
    });
    await this.notifier.send(this.notifier.configChanged('database', db.id, 'updated'));
  }
}
