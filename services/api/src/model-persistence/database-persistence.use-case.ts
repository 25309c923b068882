import { Injectable } from '@nestjs/common';
import {
  PersistedInfoRepository,
  PrivilegeWarning,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
  UnitOfWork,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ChangeNotifier } from '../common/change-notifier';
import { CanPersistCheck } from './can-persist-check';

/** Turning persistence on and off for one source database. */
@Injectable()
export class DatabasePersistenceUseCase {
  constructor(
    private readonly check: CanPersistCheck,
    private readonly uow: UnitOfWork,
    private readonly settings: SettingRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  /**
   * 400 when globally off, 404 unknown, 422 with the failing step when the can-persist check fails. A passed
   * check also reports what the connection user may change outside its cache schema (kept on the database).
   */
  async persist(databaseId: number): Promise<{ privilegeWarning: PrivilegeWarning | null }> {
    if (!(await this.settings.getBoolean(SettingKey.PersistedModelsEnabled))) {
      throw new DomainError(ErrorCode.PersistenceDisabled, 'Persisting models is not enabled.');
    }
    const { db, result } = await this.check.run(databaseId);
    if (!result.ok) {
      throw new DomainError(ErrorCode.CanPersistCheckFailed, result.message, { step: result.step });
    }
    const privilegeWarning: PrivilegeWarning | null = result.privilegeWarning ?? null;
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
