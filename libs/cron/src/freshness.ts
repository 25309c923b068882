import { QuartzSchedule } from './quartz-cron';

/**
 * Freshness targets (card `max_staleness`): the one definition of "stale" shared by the api's `stale` flag and
 * filter, the staleness gauges and the ModelCacheStale alert, and the duration format of the API.
 */

/** Bounds of `max_staleness`, in seconds (the card table's CHECK constraint has the same). */
export const MIN_MAX_STALENESS_SECONDS = 60;
export const MAX_MAX_STALENESS_SECONDS = 365 * 86_400;

/** Without a target, a model is stale once its last success is older than this many schedule intervals. */
export const STALE_INTERVAL_FACTOR = 2;

const ISO_DURATION = /^P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,7})H)?(?:(\d{1,8})M)?(?:(\d{1,9})S)?)?$/;

/**
 * Seconds of an ISO-8601 duration made of weeks, days, hours, minutes and seconds ("PT30M", "PT2H", "P1D",
 * "P1DT12H"); null when it is not one. Years and months are refused: their length in seconds is ambiguous.
 */
export function parseIsoDuration(text: string): number | null {
  const m = ISO_DURATION.exec(text.trim().toUpperCase());
  if (!m || text.trim().toUpperCase().endsWith('T')) return null;
  if (m.slice(1).every((g) => g === undefined)) return null;
  const [w, d, h, min, s] = m.slice(1).map((g) => (g === undefined ? 0 : Number(g)));
  return (((w * 7 + d) * 24 + h) * 60 + min) * 60 + s;
}

/** The canonical ISO-8601 form of a number of seconds (`P1DT2H`, `PT30M`, `PT90S` → `PT1M30S`). */
export function formatIsoDuration(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  let rest = seconds - days * 86_400;
  const hours = Math.floor(rest / 3_600);
  rest -= hours * 3_600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  const time = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${secs ? `${secs}S` : ''}`;
  if (!days && !time) return 'PT0S';
  return `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
}

/** Seconds between fires of a Quartz schedule: the widest gap among the next few fires (irregular crons). */
export function scheduleIntervalSeconds(cron: string, timeZone: string, now = new Date()): number | null {
  try {
    const runs = new QuartzSchedule(cron, timeZone).nextRuns(4, now);
    let widest = 0;
    for (let i = 1; i < runs.length; i++)
      widest = Math.max(widest, runs[i].getTime() - runs[i - 1].getTime());
    return widest > 0 ? widest / 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Staleness (seconds) beyond which a model is stale: its `max_staleness` when set, else twice the interval of
 * the schedule that applies to it; null (never stale) when it has neither.
 */
export function stalenessLimitSeconds(
  maxStalenessSeconds: number | null,
  intervalSeconds: number | null,
): number | null {
  if (maxStalenessSeconds !== null) return maxStalenessSeconds;
  return intervalSeconds === null ? null : STALE_INTERVAL_FACTOR * intervalSeconds;
}
