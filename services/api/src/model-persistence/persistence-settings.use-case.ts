import { Injectable } from '@nestjs/common';
import { validateQuartzCron } from '@model-persistence/cron';
import {
  PersistedInfoRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
  UnitOfWork,
} from '@model-persistence/database';
import { Actor } from '../common/actor';
import { ChangeNotifier } from '../common/change-notifier';

/** Global switch and refresh schedule of model persistence. */
@Injectable()
export class PersistenceSettingsUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly settings: SettingRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async enable(): Promise<void> {
    await this.settings.set(SettingKey.PersistedModelsEnabled, 'true');
    await this.notifier.send(
      this.notifier.configChanged('setting', SettingKey.PersistedModelsEnabled, 'updated'),
    );
  }

  /**
   * One transaction: every row deletable, every database flag cleared, the setting false; any failure rolls
   * all of it back. Then schedulers drop their triggers (ConfigurationChanged) and prune runs at once.
   */
  async disable(actor: Actor): Promise<void> {
    await this.uow.run(async (m) => {
      await this.persistedInfo.markDeletable('all', m);
      await this.databases.setPersistEnabled('all', false, m);
      await this.settings.set(SettingKey.PersistedModelsEnabled, 'false', m);
    });
    await this.notifier.send(
      this.notifier.configChanged('setting', SettingKey.PersistedModelsEnabled, 'updated'),
      this.notifier.pruneRequested('disable', actor.name),
    );
  }

  /** Validates the Quartz cron (7 fields, year `*`) before anything is written. */
  async setRefreshSchedule(cron: string): Promise<void> {
    const normalized = validateQuartzCron(cron);
    await this.settings.set(SettingKey.RefreshCronSchedule, normalized);
    await this.notifier.send(
      this.notifier.configChanged('setting', SettingKey.RefreshCronSchedule, 'updated'),
    );
  }
}
