import { CalendarCache, ScheduleEngine } from './schedule-engine';
import {
  expectedBuildWithMarginMs,
  firstFreshnessFire,
  FRESHNESS_DEFAULTS,
  freshnessLeadMs,
  freshnessTiming,
  FreshnessTiming,
  nextFreshnessFire,
  planFreshness,
  PreviousCronFire,
} from './freshness-plan';

const T0 = Date.parse('2026-11-29T12:00:00.000Z');
const min = 60_000;
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
const noCron: PreviousCronFire = () => null;
const utc = new CalendarCache().previousIn('UTC');

const row = (over: Partial<Parameters<typeof freshnessTiming>[0]> = {}) => ({
  maxStalenessSeconds: 3600,
  lastSuccessAt: new Date(T0),
  createdAt: new Date(T0 - 86_400_000),
  lastBuildMs: 120_000 as number | null,
  ...over,
});

describe('freshness deadline', () => {
  it('requests the refresh the expected build plus a margin before the target is reached', () => {
    // 2-minute build: margin max(15 s, 25 % = 30 s) = 30 s → lead 150 s
    expect(expectedBuildWithMarginMs(120_000)).toBe(150_000);
    expect(expectedBuildWithMarginMs(1_000)).toBe(16_000); // the margin is at least 15 s
    expect(expectedBuildWithMarginMs(null)).toBe(FRESHNESS_DEFAULTS.defaultBuildMs + 15_000);
    const t = freshnessTiming(row(), null);
    expect(iso(t.anchor)).toBe(iso(T0 + 3600_000 - 150_000));
    expect(t.since).toBe(T0);
    expect(t.every).toBe(150_000); // one top-up per expected build window at most
  });

  it('never leads by more than half the target, and retries at most once a minute', () => {
    // a 10-minute build cannot meet a 4-minute target: it is requested every half target, not back to back
    expect(freshnessLeadMs(4 * min, 10 * min)).toBe(2 * min);
    const fast = freshnessTiming(row({ maxStalenessSeconds: 60, lastBuildMs: 500 }), null);
    expect(fast.anchor - fast.since).toBe(60_000 - 15_500);
    expect(fast.every).toBe(min);
  });

  it('counts from the row creation when the model never succeeded', () => {
    const t = freshnessTiming(row({ lastSuccessAt: null, lastBuildMs: null }), null);
    expect(t.since).toBe(T0 - 86_400_000);
  });

  it('fires at the anchor when it is ahead, else at once on the latest grid point (same for every replica)', () => {
    const t: FreshnessTiming = { since: T0, anchor: T0 + 10 * min, every: 2 * min, cron: null };
    expect(firstFreshnessFire(t, T0, noCron)).toBe(T0 + 10 * min);
    // 5 minutes past the anchor: the grid point 4 minutes past it (k = 2)
    expect(firstFreshnessFire(t, T0 + 15 * min, noCron)).toBe(T0 + 14 * min);
    expect(firstFreshnessFire(t, T0 + 15 * min + 30_000, noCron)).toBe(T0 + 14 * min);
    // after a fire, the next point of the grid (backoff while the fresh-as-of time does not move)
    expect(nextFreshnessFire(t, T0 + 10 * min, noCron)).toBe(T0 + 12 * min);
    expect(nextFreshnessFire(t, T0 + 13 * min, noCron)).toBe(T0 + 14 * min);
    expect(nextFreshnessFire(t, T0, noCron)).toBe(T0 + 10 * min);
  });

  it('whichever comes first: a cron fire just before a grid point replaces that top-up', () => {
    // hourly cron at :00; target 1 h, lead 150 s → anchor 12:57:30 after a success at 12:00
    const cron = '0 0 * * * ? *';
    const t = freshnessTiming(row({ lastSuccessAt: new Date(T0 + 60_000) }), cron);
    // the cron fired at 12:00, before the success at 12:01: that refresh is what `since` reflects, so no cover
    expect(iso(firstFreshnessFire(t, T0 + 2 * min, utc))).toBe('2026-11-29T12:58:30.000Z');
    // a grid point just after the 13:00 cron fire (within the window) is covered: the cron's refresh is under way
    const late: FreshnessTiming = { since: T0, anchor: T0 + 3600_000 + 30_000, every: 150_000, cron };
    expect(iso(firstFreshnessFire(late, T0, utc))).toBe('2026-11-29T13:03:00.000Z');
    // the cron firing after the anchor does not delay it: the top-up comes first
    const early: FreshnessTiming = { since: T0, anchor: T0 + 3600_000 - 60_000, every: 150_000, cron };
    expect(iso(firstFreshnessFire(early, T0, utc))).toBe('2026-11-29T12:59:00.000Z');
  });

  it('plans one freshness schedule per target with the cron that applies, none while persistence is off', () => {
    const rows = [
      { cardId: 7, databaseId: 2, refreshCron: null, ...row() },
      { cardId: 8, databaseId: 2, refreshCron: '0 0 0 * * ? *', ...row() },
    ];
    const s = { enabled: true, cron: '0 0 0/6 * * ? *', timeZone: 'Europe/Paris' };
    const defs = planFreshness(s, rows);
    expect(defs.map((d) => [d.key, d.kind, d.cardId, d.databaseId, d.freshness?.cron, d.timeZone])).toEqual([
      ['freshness:7', 'freshness', 7, 2, '0 0 0/6 * * ? *', 'Europe/Paris'],
      ['freshness:8', 'freshness', 8, 2, '0 0 0 * * ? *', 'Europe/Paris'],
    ]);
    expect(planFreshness({ ...s, enabled: false }, rows)).toEqual([]);
  });
});

describe('ScheduleEngine with freshness schedules', () => {
  const def = (since: number) => ({
    key: 'freshness:7',
    kind: 'freshness' as const,
    timeZone: 'UTC',
    databaseId: 2,
    cardId: 7,
    freshness: { since, anchor: since + 5 * min, every: 2 * min, cron: null },
  });

  it('fires on the grid, keeps its pending fire on an identical re-plan and moves when the success moves', () => {
    const e = new ScheduleEngine();
    e.apply([def(T0)], T0);
    expect(e.dueOf('freshness:7')).toBe(T0 + 5 * min);
    const fired = e.take(T0 + 5 * min, T0 + 5 * min);
    expect(fired.due.map((d) => [d.def.key, d.fireTime])).toEqual([['freshness:7', T0 + 5 * min]]);
    expect(fired.missed).toEqual([]);
    expect(e.dueOf('freshness:7')).toBe(T0 + 7 * min); // no success yet: one more top-up a window later
    // the poll re-reads the same row: the pending fire stays
    expect(e.apply([def(T0)], T0 + 6 * min, (k) => k.startsWith('freshness:'))).toMatchObject({ changed: 0 });
    expect(e.dueOf('freshness:7')).toBe(T0 + 7 * min);
    // a success at T0 + 6 min: the next top-up is 5 minutes after it
    e.apply([def(T0 + 6 * min)], T0 + 6 * min, (k) => k.startsWith('freshness:'));
    expect(e.dueOf('freshness:7')).toBe(T0 + 11 * min);
  });

  it('a scheduler late past several grid points fires once, then continues ahead of now', () => {
    const e = new ScheduleEngine();
    e.apply([def(T0)], T0);
    const late = e.take(T0 + 12 * min, T0 + 12 * min);
    expect(late.due).toHaveLength(1);
    expect(e.dueOf('freshness:7')).toBe(T0 + 13 * min);
  });

  it('a scoped apply leaves the other schedules alone, and a removed target stops', () => {
    const e = new ScheduleEngine();
    const db = {
      key: 'database:1',
      kind: 'database' as const,
      cron: '0/3 * * * * ? *',
      timeZone: 'UTC',
      databaseId: 1,
    };
    e.apply([db, def(T0)], T0);
    e.apply([], T0, (k) => k.startsWith('freshness:'));
    expect(e.definition('database:1')).toBeDefined();
    expect(e.dueOf('freshness:7')).toBeUndefined();
  });
});
