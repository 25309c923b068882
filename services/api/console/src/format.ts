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
