import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  SecretBox,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
  sourceConnectionSettings,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { SourceConnectionInfo, SourceDriver, SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';
import { RefresherConfig } from './config';

/**
 * One pooled driver per source database, reopened when its connection settings change; the password is
 * decrypted only here, just before connecting.
 */
@Injectable()
export class SourceDrivers implements OnApplicationShutdown {
  private readonly logger = new Logger(SourceDrivers.name);
  private readonly drivers = new Map<number, { key: string; driver: SourceDriver }>();
  private readonly secrets: SecretBox;
  private instanceUuid: string | null = null;

  constructor(
    @Inject(SOURCE_DB) private readonly api: SourceDbPort,
    @Inject(APP_CONFIG) private readonly config: Pick<RefresherConfig, 'secretsKey' | 'cache'>,
    private readonly settings: SettingRepository,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
  }

  connectionInfo(db: SourceDatabaseEntity): SourceConnectionInfo {
    return sourceConnectionSettings(db, this.secrets);
  }

  forDatabase(db: SourceDatabaseEntity): SourceDriver {
    const key = JSON.stringify([
      db.engine,
      db.host,
      db.port,
      db.dbName,
      db.username,
      db.passwordEncrypted,
      db.statementTimeoutMs,
      db.tlsMode,
      db.tlsCaCert,
    ]);
    const existing = this.drivers.get(db.id);
    if (existing?.key === key) return existing.driver;
    if (existing) this.closeQuietly(existing.driver);
    const driver = this.api.openSourceDriver(this.connectionInfo(db));
    this.drivers.set(db.id, { key, driver });
    return driver;
  }

  /** `<prefix>_cache_<short instance hash>_<database id>`. */
  async schemaName(databaseId: number): Promise<string> {
    if (!this.instanceUuid) {
      const uuid = await this.settings.get(SettingKey.InstanceUuid);
      if (!uuid)
        throw new DomainError(ErrorCode.Internal, 'setting instance-uuid is missing (migrations not run?)');
      this.instanceUuid = uuid;
    }
    return this.api.cacheSchemaName(this.config.cache.schemaPrefix, this.instanceUuid, databaseId);
  }

  private closeQuietly(driver: SourceDriver): void {
    driver.close().catch((e: unknown) => this.logger.warn(`closing a source driver failed: ${String(e)}`));
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.drivers.values()];
    this.drivers.clear();
    await Promise.all(all.map((d) => d.driver.close().catch(() => undefined)));
  }
}
