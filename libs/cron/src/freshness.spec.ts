import {
  formatIsoDuration,
  parseIsoDuration,
  scheduleIntervalSeconds,
  stalenessLimitSeconds,
} from './freshness';

describe('freshness targets', () => {
  it('reads ISO-8601 durations of weeks, days, hours, minutes and seconds', () => {
    expect(parseIsoDuration('PT30M')).toBe(1800);
    expect(parseIsoDuration('PT2H')).toBe(7200);
    expect(parseIsoDuration('P1D')).toBe(86_400);
    expect(parseIsoDuration('p1dt12h')).toBe(129_600);
    expect(parseIsoDuration('P1W')).toBe(604_800);
    expect(parseIsoDuration('PT1H30M15S')).toBe(5415);
    for (const bad of ['', 'P', 'PT', 'P1DT', 'P1Y', 'P1M', '30m', 'PT-5M', 'PT1.5H', 'P1D2H', ' PT5M x'])
      expect([bad, parseIsoDuration(bad)]).toEqual([bad, null]);
  });

  it('writes the canonical form back', () => {
    expect(formatIsoDuration(1800)).toBe('PT30M');
    expect(formatIsoDuration(129_600)).toBe('P1DT12H');
    expect(formatIsoDuration(90)).toBe('PT1M30S');
    expect(formatIsoDuration(86_400 * 365)).toBe('P365D');
    expect(formatIsoDuration(0)).toBe('PT0S');
    for (const s of [60, 61, 3599, 3600, 90_061]) expect(parseIsoDuration(formatIsoDuration(s))).toBe(s);
  });

  it('a model is stale beyond its target, else beyond twice its schedule interval', () => {
    expect(stalenessLimitSeconds(600, 3600)).toBe(600);
    expect(stalenessLimitSeconds(null, 3600)).toBe(7200);
    expect(stalenessLimitSeconds(null, null)).toBeNull();
    expect(scheduleIntervalSeconds('0 0 0/6 * * ? *', 'UTC')).toBe(21_600);
    expect(scheduleIntervalSeconds('not a cron', 'UTC')).toBeNull();
  });
});
