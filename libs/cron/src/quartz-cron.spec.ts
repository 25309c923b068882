import {
  QUARTZ_FORMAT_MESSAGE,
  QUARTZ_YEAR_MESSAGE,
  QuartzSchedule,
  validateQuartzCron,
} from './quartz-cron';

const iso = (d: Date[]) => d.map((x) => x.toISOString());

describe('Quartz cron', () => {
  it('accepts the default and the reference examples', () => {
    expect(validateQuartzCron('0 0 0/6 * * ? *')).toBe('0 0 0/6 * * ? *');
    expect(validateQuartzCron('0 0 */4 * * ? *')).toBe('0 0 */4 * * ? *');
    expect(validateQuartzCron('0 0 12 L * ? *')).toBeTruthy();
    expect(validateQuartzCron('0 0 12 15W * ? *')).toBeTruthy();
    expect(validateQuartzCron('0 0 12 ? * 6#3 *')).toBeTruthy();
  });

  it.each([
    ['', QUARTZ_FORMAT_MESSAGE],
    ['0 0 * * *', QUARTZ_FORMAT_MESSAGE],
    ['0 0 0/6 * * ?', QUARTZ_FORMAT_MESSAGE],
    ['0 0 0/6 * * ? * *', QUARTZ_FORMAT_MESSAGE],
    ['0 0 0/6 * * ? 2027', QUARTZ_YEAR_MESSAGE],
    ['0 0 25 * * ? *', 'Invalid value for hour'],
    ['x y z * * ? *', QUARTZ_FORMAT_MESSAGE],
  ])('rejects %j', (expr, message) => {
    expect(() => validateQuartzCron(expr)).toThrow(message);
  });

  it('computes fire times with steps, L, W and #', () => {
    const after = new Date('2026-11-29T01:00:00Z');
    expect(iso(new QuartzSchedule('0 0 0/6 * * ? *').nextRuns(3, after))).toEqual([
      '2026-11-29T06:00:00.000Z',
      '2026-11-29T12:00:00.000Z',
      '2026-11-29T18:00:00.000Z',
    ]);
    expect(iso(new QuartzSchedule('0 0 12 L * ? *').nextRuns(2, after))).toEqual([
      '2026-11-30T12:00:00.000Z',
      '2026-12-31T12:00:00.000Z',
    ]);
    // third Friday (Quartz 6 = Friday) of December 2026 and January 2027
    expect(iso(new QuartzSchedule('0 0 12 ? * 6#3 *').nextRuns(2, after))).toEqual([
      '2026-12-18T12:00:00.000Z',
      '2027-01-15T12:00:00.000Z',
    ]);
    // nearest weekday to the 15th: 2027-05-15 is a Saturday → Friday 14th
    expect(iso(new QuartzSchedule('0 0 12 15W * ? *').nextRuns(1, new Date('2027-05-01T00:00:00Z')))).toEqual(
      ['2027-05-14T12:00:00.000Z'],
    );
  });

  it('follows daylight-saving changes in the configured time zone', () => {
    // 01:30 New York: EST (UTC-5) until 2026-03-08, then EDT (UTC-4)
    const s = new QuartzSchedule('0 30 1 * * ? *', 'America/New_York');
    expect(iso(s.nextRuns(3, new Date('2026-03-07T00:00:00Z')))).toEqual([
      '2026-03-07T06:30:00.000Z',
      '2026-03-08T06:30:00.000Z',
      '2026-03-09T05:30:00.000Z',
    ]);
    // 02:30 does not exist on 2026-03-08 in New York; the next real one is the 9th
    const gap = new QuartzSchedule('0 30 2 * * ? *', 'America/New_York');
    const runs = iso(gap.nextRuns(2, new Date('2026-03-07T12:00:00Z')));
    expect(runs[1]).toBe('2026-03-09T06:30:00.000Z');
    // Europe/Berlin autumn change: 02:30 happens twice on 2026-10-25; fires once
    const berlin = new QuartzSchedule('0 30 2 * * ? *', 'Europe/Berlin');
    const autumn = iso(berlin.nextRuns(2, new Date('2026-10-24T12:00:00Z')));
    expect(autumn[1]).toBe('2026-10-26T01:30:00.000Z');
  });

  it('finds the latest fire at or before a time', () => {
    const s = new QuartzSchedule('0/3 * * * * ? *');
    const prev = (t: string) => s.previousAtOrBefore(new Date(t))?.toISOString();
    expect(prev('2026-11-29T12:00:00.501Z')).toBe('2026-11-29T12:00:00.000Z');
    expect(prev('2026-11-29T12:00:00.000Z')).toBe('2026-11-29T12:00:00.000Z');
    expect(prev('2026-11-29T11:59:59.999Z')).toBe('2026-11-29T11:59:57.000Z');
  });

  it('refuses unknown time zones', () => {
    expect(() => new QuartzSchedule('0 0 0/6 * * ? *', 'Mars/Olympus')).toThrow(/unknown time zone/);
  });
});
