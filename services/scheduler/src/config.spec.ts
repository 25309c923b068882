import { ConfigError } from '@model-persistence/config';
import { loadSchedulerConfig, schedulerConsumerGroup } from './config';

describe('scheduler config', () => {
  it('has the documented defaults and a consumer group per instance', () => {
    const c = loadSchedulerConfig({ INSTANCE_ID: 'a1' });
    expect(c.scheduler).toEqual({
      fireMissedOnStart: false,
      claimStaleMs: 15_000,
      pruneGraceMs: 3_600_000,
      pruneCron: '0 0 0/1 * * ? *',
      claimCleanupCron: '0 0 3 * * ? *',
      claimRetentionDays: 7,
      resyncIntervalMs: 300_000,
      freshnessPollMs: 10_000,
      stageMinFires: 500,
    });
    expect(schedulerConsumerGroup(c)).toBe('scheduler-a1');
  });

  it('rejects a non-Quartz cron and bad numbers, naming the variables', () => {
    expect(() =>
      loadSchedulerConfig({ SCHEDULER_PRUNE_CRON: '0 * * * *', SCHEDULER_CLAIM_RETENTION_DAYS: '0' }),
    ).toThrow(ConfigError);
    try {
      loadSchedulerConfig({ SCHEDULER_PRUNE_CRON: '0 * * * *', SCHEDULER_CLAIM_RETENTION_DAYS: '0' });
    } catch (e) {
      expect((e as Error).message).toMatch(/SCHEDULER_PRUNE_CRON/);
      expect((e as Error).message).toMatch(/SCHEDULER_CLAIM_RETENTION_DAYS/);
    }
  });
});
