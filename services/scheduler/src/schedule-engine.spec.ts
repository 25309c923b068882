import { CalendarCache, ScheduleEngine } from './schedule-engine';
import { ScheduleDef } from './schedule-plan';

const T0 = Date.parse('2026-11-29T12:00:00.500Z');
const every3 = (key: string, extra: Partial<ScheduleDef> = {}): ScheduleDef => ({
  key,
  kind: 'database',
  cron: '0/3 * * * * ? *',
  timeZone: 'UTC',
  databaseId: 1,
  ...extra,
});
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

describe('ScheduleEngine', () => {
  it('fires each due schedule once and queues its next fire', () => {
    const e = new ScheduleEngine();
    e.apply([every3('a'), every3('b', { cron: '0/5 * * * * ? *' })], T0);
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:03.000Z');
    expect(iso(e.dueOf('b'))).toBe('2026-11-29T12:00:05.000Z');
    expect(e.take(T0 + 2000).due).toEqual([]);
    const first = e.take(T0 + 2600);
    expect(first.due.map((d) => [d.def.key, iso(d.fireTime)])).toEqual([['a', '2026-11-29T12:00:03.000Z']]);
    expect(e.take(T0 + 2600).due).toEqual([]);
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:06.000Z');
  });

  it('a reload with the same plan keeps pending fires; a changed cron reschedules; a removed schedule stops', () => {
    const e = new ScheduleEngine();
    expect(e.apply([every3('a'), every3('b')], T0)).toMatchObject({ added: 2, changed: 0, removed: 0 });
    const r = e.apply([every3('a'), every3('b')], T0 + 2400);
    expect(r).toMatchObject({ added: 0, changed: 0, removed: 0 });
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:03.000Z');
    const changed = e.apply([every3('a', { cron: '0/10 * * * * ? *' })], T0 + 2400);
    expect(changed).toMatchObject({ added: 0, changed: 1, removed: 1 });
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:10.000Z');
    expect(e.dueOf('b')).toBeUndefined();
    expect(e.take(T0 + 5000).due).toEqual([]);
  });

  it('skips fires it was too late for (Quartz misfire: do nothing) and reports them', () => {
    const e = new ScheduleEngine();
    e.apply([every3('a')], T0);
    const late = e.take(T0 + 9000); // 12:00:09.5: 03 is due; 06 and 09 were passed
    expect(late.due.map((d) => iso(d.fireTime))).toEqual(['2026-11-29T12:00:03.000Z']);
    expect(late.missed.map((m) => iso(m.fireTime))).toEqual(['2026-11-29T12:00:06.000Z']);
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:12.000Z');
  });

  it('takes fires up to a horizon ahead (prepared before they are due) without counting them missed', () => {
    const e = new ScheduleEngine();
    e.apply([every3('a')], T0);
    const ahead = e.take(T0 + 2600, T0 + 1600); // at 12:00:02.1, looking 1 s ahead
    expect(ahead.due.map((d) => iso(d.fireTime))).toEqual(['2026-11-29T12:00:03.000Z']);
    expect(ahead.missed).toEqual([]);
    expect(iso(e.dueOf('a'))).toBe('2026-11-29T12:00:06.000Z');
  });

  it('one-shots in the past fire at once, once, and a reload does not re-add them', () => {
    const e = new ScheduleEngine();
    const shot: ScheduleDef = {
      key: 'prune-disable',
      kind: 'prune-disable',
      at: T0 - 10_000,
      timeZone: 'UTC',
    };
    e.apply([shot], T0);
    expect(e.take(T0).due.map((d) => d.def.key)).toEqual(['prune-disable']);
    expect(e.apply([shot], T0 + 100)).toMatchObject({ added: 0, changed: 0 });
    expect(e.take(T0 + 100).due).toEqual([]);
    expect(e.nextDue()).toBeUndefined();
  });

  it('reports an invalid cron and does not schedule it', () => {
    const e = new ScheduleEngine();
    const r = e.apply([every3('ok'), every3('bad', { cron: '0 0 * * *' })], T0);
    expect(r.invalid).toEqual([{ key: 'bad', error: expect.stringMatching(/<seconds> <minutes>/) }]);
    expect(e.size).toBe(1);
    const tz = e.apply([every3('ok', { timeZone: 'Mars/Olympus' })], T0);
    expect(tz.invalid[0].error).toMatch(/unknown time zone/);
    expect(e.size).toBe(0);
  });

  it('follows the time zone across a daylight-saving change', () => {
    const e = new ScheduleEngine();
    e.apply(
      [every3('ny', { cron: '0 30 1 * * ? *', timeZone: 'America/New_York' })],
      Date.parse('2026-03-07T12:00:00Z'),
    );
    expect(iso(e.dueOf('ny'))).toBe('2026-03-08T06:30:00.000Z'); // 01:30 EST
    e.take(Date.parse('2026-03-08T06:30:00.100Z'));
    expect(iso(e.dueOf('ny'))).toBe('2026-03-09T05:30:00.000Z'); // 01:30 EDT
  });

  it('a tick costs work for the due schedules only, not for all of them', () => {
    const calendars = new CalendarCache();
    const e = new ScheduleEngine(calendars);
    // 10,000 staggered schedules: each fires hourly at its own minute and second
    const defs = Array.from({ length: 10_000 }, (_, i) =>
      every3(`database:${i}`, { cron: `${i % 60} ${Math.floor(i / 60) % 60} * * * ? *`, databaseId: i + 1 }),
    );
    const start = Date.parse('2026-11-29T12:00:00.000Z');
    e.apply(defs, start);
    const spy = jest.spyOn(calendars, 'nextAfter');
    const due = e.take(Date.parse('2026-11-29T12:00:02.000Z')).due;
    // seconds 0..2 of minute 0: schedules i with i%60 in {1,2} and floor(i/60)%60 === 0, i.e. i = 1, 2 and 3601, 3602, …
    expect(due.length).toBeGreaterThan(0);
    expect(due.length).toBeLessThan(20);
    expect(spy).toHaveBeenCalledTimes(due.length);
    expect(e.pending).toBe(10_000);
  });

  it('keeps one schedule per distinct cron, and drops those a reload no longer uses', () => {
    const calendars = new CalendarCache();
    const e = new ScheduleEngine(calendars);
    const crons = Array.from({ length: 20 }, (_, i) => `${i} ${i} 3 * * ? *`);
    const at = Date.parse('2026-11-29T12:00:00Z');
    e.apply(
      crons.map((cron, i) => every3(`model:${i}`, { cron, kind: 'model' })),
      at,
    );
    expect(calendars.parsedCount).toBe(20);
    expect(crons.map((_, i) => iso(e.dueOf(`model:${i}`)))).toEqual(
      crons.map((_, i) => `2026-11-30T03:${String(i).padStart(2, '0')}:${String(i).padStart(2, '0')}.000Z`),
    );
    e.apply([every3('model:0', { cron: crons[0], kind: 'model' })], at);
    expect(calendars.parsedCount).toBe(1);
  });

  it('previousFires lists the latest planned fire of each recurring schedule', () => {
    const e = new ScheduleEngine();
    e.apply([every3('a'), { key: 'x', kind: 'prune-disable', at: T0 + 5000, timeZone: 'UTC' }], T0);
    expect(e.previousFires(T0).map((f) => [f.def.key, iso(f.fireTime)])).toEqual([
      ['a', '2026-11-29T12:00:00.000Z'],
    ]);
  });
});
