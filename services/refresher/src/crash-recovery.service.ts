import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PersistedInfoRepository, SourceDatabaseRepository } from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { SourceDriver } from '@model-persistence/source-db';
import { SourceDrivers } from './source-drivers.service';

/**
 * Cleans up after refreshers that died mid-refresh (kill -9, OOM, lost node): rows whose lease expired are
 * taken over, and temporary/backup tables of interrupted builds are dropped. Runs at start-up, at the start of
 * every database run and after an individual run's answer (at most every few seconds per database); a build whose
 * generation still holds a live lease is never touched (its table is in use).
 */
@Injectable()
export class CrashRecoveryService implements OnApplicationBootstrap {
  private readonly logger = new Logger(CrashRecoveryService.name);

  constructor(
    private readonly rows: PersistedInfoRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly drivers: SourceDrivers,
  ) {}

  onApplicationBootstrap(): void {
    // in the background: an unreachable source database must not delay consuming
    void this.recoverAll().catch((e: unknown) =>
      this.logger.warn(`start-up recovery failed: ${errorMessage(e)}`),
    );
  }

  async recoverAll(): Promise<void> {
    for (const db of await this.databases.findPersistEnabled()) {
      try {
        await this.recoverDatabase(db.id, this.drivers.forDatabase(db), await this.drivers.schemaName(db.id));
      } catch (e) {
        this.logger.warn(`recovery of database ${db.id} failed: ${errorMessage(e)}`);
      }
    }
  }

  async recoverDatabase(databaseId: number, driver: SourceDriver, schemaName: string): Promise<void> {
    const taken = await this.rows.takeOverExpiredLeases(databaseId);
    for (const row of taken) {
      this.logger.warn(
        `took over persisted_info ${row.id} (card ${row.cardId}) left refreshing by a dead run`,
      );
    }
    try {
      // builds holding a live lease (another refresher's, or this one's) are left alone, whoever runs this
      const dropped = await driver.dropOrphanTempTables(schemaName, (g) => this.rows.liveGenerations(g));
      if (dropped > 0) this.logger.warn(`dropped ${dropped} leftover temporary table(s) in ${schemaName}`);
    } catch (e) {
      // the schema may not exist yet, or the source is down: the refresh reports the real problem
      this.logger.warn(`cleaning temporary tables in ${schemaName} failed: ${errorMessage(e)}`);
    }
  }
}
