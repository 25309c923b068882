import { PersistedInfoDetail } from '@model-persistence/database';
import { NextFireCache, NextFireCalculator } from './persisted-info-query.use-case';

const row = (over: Partial<PersistedInfoDetail> = {}): PersistedInfoDetail =>
  ({
    id: 1,
    cardId: 5,
    cardType: 'model',
    cardArchived: false,
    cardRefreshCron: null,
    databasePersistEnabled: true,
    state: 'persisted',
    ...over,
  }) as PersistedInfoDetail;

const now = new Date('2026-03-28T22:10:00Z');

describe('NextFireCalculator', () => {
  it('uses the global cron in the schedule time zone', () => {
    const calc = new NextFireCalculator(true, '0 0 0/6 * * ? *', 'UTC', now);
    expect(calc.nextFor(row())?.toISOString()).toBe('2026-03-29T00:00:00.000Z');
    const berlin = new NextFireCalculator(true, '0 0 3 * * ? *', 'Europe/Berlin', now);
    // 29 March 2026 is the switch to summer time in Berlin: 03:00 local = 01:00 UTC
    expect(berlin.nextFor(row())?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it('prefers the card override', () => {
    const calc = new NextFireCalculator(true, '0 0 0/6 * * ? *', 'UTC', now);
    expect(calc.nextFor(row({ cardRefreshCron: '0 15 22 * * ? *' }))?.toISOString()).toBe(
      '2026-03-28T22:15:00.000Z',
    );
  });

  it('is null when nothing would fire: disabled, database off, off/deletable rows, archived or deleted cards, bad cron', () => {
    expect(new NextFireCalculator(false, '0 0 * * * ? *', 'UTC', now).nextFor(row())).toBeNull();
    const calc = new NextFireCalculator(true, '0 0 * * * ? *', 'UTC', now);
    expect(calc.nextFor(row({ databasePersistEnabled: false }))).toBeNull();
    expect(calc.nextFor(row({ state: 'off' }))).toBeNull();
    expect(calc.nextFor(row({ state: 'deletable' }))).toBeNull();
    expect(calc.nextFor(row({ cardArchived: true }))).toBeNull();
    expect(calc.nextFor(row({ cardId: null }))).toBeNull();
    expect(calc.nextFor(row({ cardType: 'question' }))).toBeNull();
    expect(calc.nextFor(row({ cardRefreshCron: 'not a cron' }))).toBeNull();
    expect(calc.nextFor(row({ state: 'error' }))).not.toBeNull();
  });
});

describe('NextFireCache', () => {
  it('reuses a fire time until it passes, then moves to the next one', () => {
    const cache = new NextFireCache();
    const t0 = new Date('2026-01-01T00:10:00Z');
    expect(cache.next('0 0 * * * ? *', 'UTC', t0)?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
    expect(cache.next('0 0 * * * ? *', 'UTC', new Date('2026-01-01T00:59:59Z'))?.toISOString()).toBe(
      '2026-01-01T01:00:00.000Z',
    );
    expect(cache.next('0 0 * * * ? *', 'UTC', new Date('2026-01-01T01:00:00Z'))?.toISOString()).toBe(
      '2026-01-01T02:00:00.000Z',
    );
    expect(cache.next('0 0 * * * ? *', 'Asia/Kolkata', t0)?.toISOString()).toBe('2026-01-01T00:30:00.000Z');
    expect(cache.next('garbage', 'UTC', t0)).toBeNull();
  });
});
