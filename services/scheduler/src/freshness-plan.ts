import { resolveModelCron } from '@model-persistence/cron';
import type { FreshnessTargetRow } from '@model-persistence/database';
import { ScheduleDef, ScheduleSnapshot } from './schedule-plan';

/**
 * Freshness targets (card `max_staleness`): top-up refreshes so a model's cache stays within its target,
 * whichever comes first with its cron. Pure: every replica derives the same fire times from the same rows (fresh
 * as of, target, last build time), so the schedule claims (schedule key + fire time) let one replica publish each.
 */

export interface FreshnessOptions {
  /** Expected build time when the model has no successful build yet. */
  defaultBuildMs: number;
  /** Safety margin on top of the expected build time: at least this… */
  minMarginMs: number;
  /** …and at least this share of the expected build time (slow builds vary more). */
  marginRatio: number;
  /** Shortest time between two top-ups of a model whose fresh-as-of time does not move (failing refreshes). */
  minRetryMs: number;
}

export const FRESHNESS_DEFAULTS: FreshnessOptions = {
  defaultBuildMs: 30_000,
  minMarginMs: 15_000,
  marginRatio: 0.25,
  minRetryMs: 60_000,
};

/** What a freshness schedule fires on: a grid `anchor + k × every` (k ≥ 0), minus the points its cron covers. */
export interface FreshnessTiming {
  /** Fresh as of (last success, else the row's creation), epoch ms. */
  since: number;
  /** First top-up: since + target − (expected build + margin). */
  anchor: number;
  /** Retry window: at most one top-up per window while `since` does not move. */
  every: number;
  /** The cron that refreshes the model anyway (own, else its database's), in `timeZone`; null: none. */
  cron: string | null;
}

export const freshnessKey = (cardId: number) => `freshness:${cardId}`;
export const isFreshnessKey = (key: string) => key.startsWith('freshness:');

/** Expected build time plus its safety margin. */
export function expectedBuildWithMarginMs(lastBuildMs: number | null, o = FRESHNESS_DEFAULTS): number {
  const build = lastBuildMs ?? o.defaultBuildMs;
  return build + Math.max(o.minMarginMs, Math.ceil(build * o.marginRatio));
}

/**
 * How long before the target is reached the refresh is requested: the expected build with its margin, but never
 * more than half the target (a model whose build outlasts its target cannot meet it; it is then refreshed about
 * every half target rather than back to back).
 */
export function freshnessLeadMs(
  targetMs: number,
  lastBuildMs: number | null,
  o = FRESHNESS_DEFAULTS,
): number {
  return Math.min(expectedBuildWithMarginMs(lastBuildMs, o), Math.floor(targetMs / 2));
}

export function freshnessTiming(
  row: Pick<FreshnessTargetRow, 'maxStalenessSeconds' | 'lastSuccessAt' | 'createdAt' | 'lastBuildMs'>,
  cron: string | null,
  o = FRESHNESS_DEFAULTS,
): FreshnessTiming {
  const targetMs = row.maxStalenessSeconds * 1000;
  const since = (row.lastSuccessAt ?? row.createdAt).getTime();
  return {
    since,
    anchor: since + targetMs - freshnessLeadMs(targetMs, row.lastBuildMs, o),
    every: Math.max(o.minRetryMs, expectedBuildWithMarginMs(row.lastBuildMs, o)),
    cron,
  };
}

/**
 * One `freshness:<card id>` schedule per model with a target (the rows are already limited to live models of
 * persist-enabled databases); none while persisted models are off globally.
 */
export function planFreshness(
  s: Pick<ScheduleSnapshot, 'enabled' | 'cron' | 'timeZone'>,
  rows: FreshnessTargetRow[],
  o = FRESHNESS_DEFAULTS,
): ScheduleDef[] {
  if (!s.enabled) return [];
  return rows.map((r) => {
    const applied = resolveModelCron(
      { enabled: s.enabled, globalCron: s.cron },
      { databasePersistEnabled: true, cardCron: r.refreshCron },
    );
    return {
      key: freshnessKey(r.cardId),
      kind: 'freshness',
      timeZone: s.timeZone,
      databaseId: r.databaseId,
      cardId: r.cardId,
      freshness: freshnessTiming(r, applied?.cron ?? null, o),
    };
  });
}

/** The latest fire of a cron at or before an instant (null: none, or the cron does not parse). */
export type PreviousCronFire = (cron: string, at: number) => number | null;

/** Grid points checked for a covering cron before giving up on skipping (a cron firing more often than `every`). */
const MAX_SKIPS = 1000;

/**
 * A grid point is covered when the model's cron fired in the window before it and after the fresh-as-of time:
 * that refresh is under way (or failed, and the next point tries again), so a top-up would only duplicate it.
 * A cron fire before `since` does not count: its refresh is what `since` already reflects.
 */
function covered(f: FreshnessTiming, g: number, previous: PreviousCronFire): boolean {
  if (f.cron === null) return false;
  const c = previous(f.cron, g);
  return c !== null && c > g - f.every && c > f.since;
}

function firstUncovered(f: FreshnessTiming, g: number, previous: PreviousCronFire): number {
  for (let i = 0; i < MAX_SKIPS && covered(f, g, previous); i++) g += f.every;
  return g;
}

/**
 * The fire to queue when the schedule is (re)loaded at `now`: the anchor if it is ahead, else the latest grid
 * point at or before now (the top-up is due: fire at once; the claim of that point makes it once across
 * replicas and restarts), skipping points the cron covers.
 */
export function firstFreshnessFire(f: FreshnessTiming, now: number, previous: PreviousCronFire): number {
  const g = f.anchor >= now ? f.anchor : f.anchor + Math.floor((now - f.anchor) / f.every) * f.every;
  return firstUncovered(f, g, previous);
}

/** The fire after `after` (a grid point just fired, or now when the scheduler was late), skipping covered ones. */
export function nextFreshnessFire(f: FreshnessTiming, after: number, previous: PreviousCronFire): number {
  const k = after < f.anchor ? 0 : Math.floor((after - f.anchor) / f.every) + 1;
  return firstUncovered(f, f.anchor + k * f.every, previous);
}
