import { Injectable } from '@nestjs/common';
import {
  CardRepository,
  FreshnessTargetRow,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { ScheduleSnapshot } from './schedule-plan';

/** Reads everything the schedules depend on from the app database. */
@Injectable()
export class ScheduleSnapshotService {
  constructor(
    private readonly settings: SettingRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly cards: CardRepository,
  ) {}

  async load(): Promise<ScheduleSnapshot> {
    const [enabled, all, databases, overrides] = await Promise.all([
      this.settings.getEntry(SettingKey.PersistedModelsEnabled),
      this.settings.getAll(),
      this.databases.findPersistEnabled(),
      this.cards.findWithCronOverride(),
    ]);
    return {
      enabled: enabled.value === 'true',
      enabledChangedAt: enabled.updatedAt,
      cron: all[SettingKey.RefreshCronSchedule],
      timeZone: all[SettingKey.ScheduleTimeZone],
      databaseIds: databases.map((d) => d.id),
      overrides: overrides.map((c) => ({ cardId: c.id, databaseId: c.databaseId, cron: c.refreshCron! })),
    };
  }

  /** Models with a freshness target to keep fresh (one indexed query: the freshness poll runs it often). */
  loadFreshness(): Promise<FreshnessTargetRow[]> {
    return this.cards.findFreshnessTargets();
  }
}
