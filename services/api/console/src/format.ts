/* Display helpers: times in the browser's locale, durations and ages in words. */

export function dateTime(iso: string | null): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function age(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString();
}

export function until(iso: string | null, now = Date.now()): string {
  if (!iso) return 'not scheduled';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  return s <= 0 ? 'due now' : `in ${age(s)}`;
}

/** A task_details value as text (they are numbers and strings; anything else shows the fallback). */
export function detailText(v: unknown, fallback = '—'): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : fallback;
}

/** Seconds in words, exactly (a freshness target or limit, not an age): 1800 → "30 min", 129600 → "1 d 12 h". */
export function span(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(seconds));
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n) parts.push(`${n} ${unit}`);
  }
  return parts.length ? parts.join(' ') : '0 s';
}

/** The staleness fields of a persisted model (api.ts PersistedInfo; structural, so node can test this file). */
interface Freshness {
  stale: boolean;
  max_staleness: string | null;
  staleness_limit_seconds: number | null;
  staleness_limit_source?: 'max_staleness' | 'schedule_interval' | null;
  staleness_seconds: number | null;
}

/**
 * The limit a model's staleness is held to, in words, as the API decided it (`staleness_limit_source`): its
 * freshness target, else twice its schedule interval; null when it has none (never stale).
 */
export function limitText(m: Freshness): string | null {
  if (m.staleness_limit_seconds === null) return null;
  const limit = span(m.staleness_limit_seconds);
  if (m.staleness_limit_source === 'max_staleness')
    return m.max_staleness
      ? `its freshness target ${m.max_staleness} (${limit})`
      : `its freshness target (${limit})`;
  if (m.staleness_limit_source === 'schedule_interval') return `twice its schedule interval (${limit})`;
  return limit;
}

/** Why a model is stale, in words ("Not current for 2 h 5 min: beyond its freshness target PT1H (1 h)"); null when it is not. */
export function staleReason(m: Freshness): string | null {
  if (!m.stale) return null;
  const since =
    m.staleness_seconds === null ? 'Never refreshed' : `Not current for ${age(m.staleness_seconds)}`;
  const limit = limitText(m);
  return limit ? `${since}: beyond ${limit}` : since;
}

/** How one model fared in a refresh run, from the run's task_details. */
export type RunOutcome = 'built' | 'unchanged' | 'failed' | 'skipped' | 'running' | 'unknown';

interface ModelResult {
  mode?: string;
  outcome?: string;
  skipped?: string;
  'upstream-card-id'?: number;
}

export function runOutcome(
  t: { status: string; task_details: Record<string, unknown> | null },
  cardId: number,
): { outcome: RunOutcome; text: string } {
  const d = t.task_details ?? {};
  const result = (d.models as Record<string, ModelResult> | undefined)?.[String(cardId)];
  if (result?.outcome === 'unchanged')
    return { outcome: 'unchanged', text: 'unchanged: data verified unchanged, not rebuilt' };
  if (result?.skipped === 'upstream_failed')
    return {
      outcome: 'skipped',
      text: `skipped: model ${detailText(result['upstream-card-id'], '?')} it reads did not build`,
    };
  const errors = (d['error-details'] as { 'card-id'?: number }[] | undefined) ?? [];
  if (errors.some((e) => e['card-id'] === cardId)) return { outcome: 'failed', text: 'failed' };
  if (result) return { outcome: 'built', text: result.mode ? `built (${result.mode})` : 'built' };
  if (t.status === 'started') return { outcome: 'running', text: 'running' };
  if (t.status === 'success') return { outcome: 'built', text: 'built' };
  return { outcome: 'unknown', text: '—' };
}
