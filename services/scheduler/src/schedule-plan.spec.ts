import { DEFAULT_PLAN_OPTIONS, planSchedules, ScheduleSnapshot } from './schedule-plan';

const base: ScheduleSnapshot = {
  enabled: true,
  enabledChangedAt: new Date('2026-11-29T10:00:00Z'),
  cron: '0 0 0/6 * * ? *',
  timeZone: 'Europe/Berlin',
  databaseIds: [1, 2],
  overrides: [
    { cardId: 10, databaseId: 1, cron: '0 0/5 * * * ? *' },
    { cardId: 11, databaseId: 3, cron: '0 0/5 * * * ? *' },
  ],
};
const now = Date.parse('2026-11-29T12:00:00Z');

describe('planSchedules', () => {
  it('one schedule per enabled database, per-model overrides of enabled databases, prune and clean-up', () => {
    const defs = planSchedules(base, DEFAULT_PLAN_OPTIONS, now);
    expect(defs.map((d) => d.key).sort()).toEqual([
      'claim-cleanup',
      'database:1',
      'database:2',
      'model:10',
      'prune',
    ]);
    expect(defs.find((d) => d.key === 'model:10')).toMatchObject({
      kind: 'model',
      databaseId: 1,
      cardId: 10,
    });
    expect(defs.every((d) => d.timeZone === 'Europe/Berlin')).toBe(true);
    expect(defs.find((d) => d.key === 'prune')?.cron).toBe('0 0 0/1 * * ? *');
  });

  it('globally disabled: no refresh schedules, prune continues, a prune at the disable time and after the grace', () => {
    const disabledAt = Date.parse('2026-11-29T11:59:00Z');
    const defs = planSchedules(
      { ...base, enabled: false, enabledChangedAt: new Date(disabledAt) },
      DEFAULT_PLAN_OPTIONS,
      now,
    );
    expect(defs.map((d) => d.key).sort()).toEqual([
      'claim-cleanup',
      'prune',
      'prune-disable',
      'prune-followup',
    ]);
    expect(defs.find((d) => d.key === 'prune-disable')?.at).toBe(disabledAt);
    expect(defs.find((d) => d.key === 'prune-followup')?.at).toBe(disabledAt + 3_600_000 + 10_000);
  });

  it('a disable long past the grace period plans no one-shot prunes; a never-written setting neither', () => {
    const old = planSchedules(
      { ...base, enabled: false, enabledChangedAt: new Date(now - 2 * 3_600_000) },
      DEFAULT_PLAN_OPTIONS,
      now,
    );
    expect(old.map((d) => d.key).sort()).toEqual(['claim-cleanup', 'prune']);
    const never = planSchedules(
      { ...base, enabled: false, enabledChangedAt: null },
      DEFAULT_PLAN_OPTIONS,
      now,
    );
    expect(never.map((d) => d.key).sort()).toEqual(['claim-cleanup', 'prune']);
  });
});
