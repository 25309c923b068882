import { PRUNE_CRON, resolveDatabaseCron, resolveModelCron } from '@model-persistence/cron';
import type { FreshnessTiming } from './freshness-plan';

export type ScheduleKind =
  'database' | 'model' | 'freshness' | 'prune' | 'prune-disable' | 'prune-followup' | 'claim-cleanup';

/** One schedule: recurring (cron), one-shot (at) or a freshness top-up grid (freshness). Its key names it in the heap and in schedule_claim. */
export interface ScheduleDef {
  key: string;
  kind: ScheduleKind;
  cron?: string;
  /** One-shot fire time in epoch ms. */
  at?: number;
  timeZone: string;
  databaseId?: number;
  cardId?: number;
  /** Freshness target of a model (kind `freshness`): fires on its grid, see freshness-plan.ts. */
  freshness?: FreshnessTiming;
}

/** What the schedules depend on, read from the app database. */
export interface ScheduleSnapshot {
  enabled: boolean;
  /** When the global switch was last written (the disable time when `enabled` is false). */
  enabledChangedAt: Date | null;
  cron: string;
  timeZone: string;
  databaseIds: number[];
  /** Models of persist-enabled databases carrying their own cron. */
  overrides: { cardId: number; databaseId: number; cron: string }[];
}

export interface PlanOptions {
  pruneCron: string;
  claimCleanupCron: string;
  /** Deletable grace period of the refresher's prune, in ms. */
  pruneGraceMs: number;
}

/** The follow-up prune runs a little after the grace period ends, so the rows are surely old enough. */
export const followUpMarginMs = (graceMs: number) => Math.min(10_000, Math.floor(graceMs / 10));

export const DEFAULT_PLAN_OPTIONS: PlanOptions = {
  pruneCron: PRUNE_CRON,
  claimCleanupCron: '0 0 3 * * ? *',
  pruneGraceMs: 3_600_000,
};

export const scheduleKey = {
  database: (id: number) => `database:${id}`,
  model: (cardId: number) => `model:${cardId}`,
};

/**
 * The schedules a snapshot calls for. Pure, so reschedule logic is unit tested without clocks:
 * - one per persist-enabled database while the global setting is on, and one per model with its own cron;
 * - hourly prune and daily schedule-claim clean-up always (tables of a disabled install must still go);
 * - after a global disable (within the grace period): a prune at the disable time and a follow-up once the
 *   grace period has passed. Both are one-shots keyed by the disable time, so every replica (and a
 *   restarted one) derives the same claim key and the prune is published once.
 */
export function planSchedules(s: ScheduleSnapshot, opts: PlanOptions, now: number): ScheduleDef[] {
  const tz = s.timeZone;
  const defs: ScheduleDef[] = [
    { key: 'prune', kind: 'prune', cron: opts.pruneCron, timeZone: tz },
    { key: 'claim-cleanup', kind: 'claim-cleanup', cron: opts.claimCleanupCron, timeZone: tz },
  ];
  const settings = { enabled: s.enabled, globalCron: s.cron };
  if (s.enabled) {
    const enabledDbs = new Set(s.databaseIds);
    for (const id of s.databaseIds) {
      const cron = resolveDatabaseCron(settings, true);
      if (cron !== null)
        defs.push({ key: scheduleKey.database(id), kind: 'database', cron, timeZone: tz, databaseId: id });
    }
    for (const o of s.overrides) {
      const applied = resolveModelCron(settings, {
        databasePersistEnabled: enabledDbs.has(o.databaseId),
        cardCron: o.cron,
      });
      // a model without its own cron is refreshed with its database's schedule
      if (applied?.source !== 'model') continue;
      defs.push({
        key: scheduleKey.model(o.cardId),
        kind: 'model',
        cron: applied.cron,
        timeZone: tz,
        databaseId: o.databaseId,
        cardId: o.cardId,
      });
    }
  } else if (s.enabledChangedAt) {
    const disabledAt = s.enabledChangedAt.getTime();
    const followUp = disabledAt + opts.pruneGraceMs + followUpMarginMs(opts.pruneGraceMs);
    if (followUp > now - 60_000) {
      defs.push({ key: 'prune-disable', kind: 'prune-disable', at: disabledAt, timeZone: tz });
      defs.push({ key: 'prune-followup', kind: 'prune-followup', at: followUp, timeZone: tz });
    }
  }
  return defs;
}
