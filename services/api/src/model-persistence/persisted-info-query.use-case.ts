import { Injectable } from '@nestjs/common';
import { QuartzSchedule, resolveModelCron } from '@model-persistence/cron';
import {
  LIVE_STATES,
  PersistedInfoDetail,
  PersistedInfoListQuery,
  PersistedInfoQueryRepository,
  PersistedState,
  SettingKey,
  SettingRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';

export interface PersistedInfoItem extends PersistedInfoDetail {
  /** Next scheduled refresh (card override or global cron, in the schedule time zone); null when not scheduled. */
  nextFireTime: Date | null;
}

export interface PersistedInfoPage {
  data: PersistedInfoItem[];
  total: number;
  limit: number;
  offset: number;
}

export const SETTINGS_TTL_MS = 1000;

const SCHEDULED_STATES: ReadonlySet<PersistedState> = new Set(LIVE_STATES);

/**
 * Next fire times per (cron, time zone), shared by all requests. A cached time stays right until it passes:
 * the first fire after t0 is also the first fire after any later instant before it. Parsing and searching a
 * Quartz schedule costs ~0.4 ms, so this keeps a page of 50 items from spending 20 ms of CPU on it.
 */
export class NextFireCache {
  private readonly entries = new Map<string, { schedule: QuartzSchedule | null; next: Date | null }>();

  constructor(private readonly maxEntries = 1000) {}

  next(expression: string, timeZone: string, now: Date): Date | null {
    const key = `${timeZone}|${expression}`;
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      let schedule: QuartzSchedule | null = null;
      try {
        schedule = new QuartzSchedule(expression, timeZone);
      } catch {
        // a stored cron that no longer parses: "not scheduled" rather than failing the whole list
      }
      entry = { schedule, next: null };
      this.entries.set(key, entry);
    }
    if (!entry.schedule) return null;
    if (!entry.next || entry.next.getTime() <= now.getTime()) entry.next = entry.schedule.nextAfter(now);
    return entry.next;
  }
}

/** Computes the next fire time of rows under one snapshot of the settings. */
export class NextFireCalculator {
  constructor(
    private readonly enabled: boolean,
    private readonly globalCron: string,
    private readonly timeZone: string,
    private readonly now: Date,
    private readonly cache = new NextFireCache(),
  ) {}

  nextFor(row: PersistedInfoDetail): Date | null {
    if (!SCHEDULED_STATES.has(row.state)) return null;
    if (row.cardId === null || row.cardType !== 'model' || row.cardArchived) return null;
    const applied = resolveModelCron(
      { enabled: this.enabled, globalCron: this.globalCron },
      { databasePersistEnabled: row.databasePersistEnabled, cardCron: row.cardRefreshCron },
    );
    return applied && this.cache.next(applied.cron, this.timeZone, this.now);
  }
}

/** The read side: list and single persisted-info items with names, next fire time and staleness. */
@Injectable()
export class PersistedInfoQueryUseCase {
  private readonly nextFires = new NextFireCache();
  private settingsCache: { value: Promise<Record<SettingKey, string>>; until: number } | null = null;

  constructor(
    private readonly query: PersistedInfoQueryRepository,
    private readonly settings: SettingRepository,
  ) {}

  async list(q: PersistedInfoListQuery): Promise<PersistedInfoPage> {
    const [page, calc] = await Promise.all([this.query.page(q), this.calculator()]);
    return {
      data: page.rows.map((r) => ({ ...r, nextFireTime: calc.nextFor(r) })),
      total: page.total,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async byId(id: number): Promise<PersistedInfoItem> {
    return this.one(await this.query.findById(id), `Persisted model ${id} not found.`);
  }

  async byCardId(cardId: number): Promise<PersistedInfoItem> {
    return this.one(await this.query.findByCardId(cardId), `No persisted model for card ${cardId}.`);
  }

  private async one(row: PersistedInfoDetail | null, notFound: string): Promise<PersistedInfoItem> {
    if (!row) throw new DomainError(ErrorCode.NotFound, notFound);
    const calc = await this.calculator();
    return { ...row, nextFireTime: calc.nextFor(row) };
  }

  private async calculator(): Promise<NextFireCalculator> {
    const s = await this.settingsSnapshot();
    return new NextFireCalculator(
      s[SettingKey.PersistedModelsEnabled] === 'true',
      s[SettingKey.RefreshCronSchedule],
      s[SettingKey.ScheduleTimeZone],
      new Date(),
      this.nextFires,
    );
  }

  /** Settings change rarely; a list shows them at most SETTINGS_TTL_MS old (one query fewer per request). */
  private settingsSnapshot(): Promise<Record<SettingKey, string>> {
    const now = Date.now();
    if (!this.settingsCache || this.settingsCache.until <= now) {
      const value = this.settings.getAll();
      this.settingsCache = { value, until: now + SETTINGS_TTL_MS };
      // a failed read must not be served from the cache
      value.catch(() => (this.settingsCache = null));
    }
    return this.settingsCache.value;
  }
}
