import { envBool, envInt, envString, loadServiceConfig } from '@model-persistence/config';
import { schedulerConsumerGroupOf } from '@model-persistence/contracts';
import { PRUNE_CRON, validateQuartzCron } from '@model-persistence/cron';
import { z } from 'zod';

/** scheduler configuration: base variables plus this service's own (README "Configuration"). */
const quartz = (fallback: string) =>
  envString(fallback).refine((v) => {
    try {
      validateQuartzCron(v);
      return true;
    } catch {
      return false;
    }
  }, 'must be a 7-field Quartz cron with year "*", e.g. 0 0 0/1 * * ? *');

export const schedulerEnvSchema = z.object({
  SCHEDULER_FIRE_MISSED_ON_START: envBool(false),
  SCHEDULER_CLAIM_STALE_MS: envInt(15_000, 1_000, 3_600_000),
  PRUNE_GRACE_MS: envInt(3_600_000, 0, 365 * 24 * 3_600_000), // same variable and range as the refresher
  SCHEDULER_PRUNE_CRON: quartz(PRUNE_CRON),
  SCHEDULER_CLAIM_CLEANUP_CRON: quartz('0 0 3 * * ? *'),
  SCHEDULER_CLAIM_RETENTION_DAYS: envInt(7, 1, 3650),
  SCHEDULER_RESYNC_INTERVAL_MS: envInt(300_000, 0, 86_400_000),
  // how often the models with a freshness target are re-read (their fresh-as-of times move with every success)
  SCHEDULER_FRESHNESS_POLL_MS: envInt(10_000, 0, 3_600_000),
  // fires of one instant from which they are sent ahead in a Kafka transaction and committed at the fire time
  // (0 = never): below it a plain send at the fire time is fast enough
  SCHEDULER_STAGE_MIN_FIRES: envInt(500, 0, 1_000_000),
});

export type SchedulerConfig = ReturnType<typeof loadSchedulerConfig>;

export function loadSchedulerConfig(env = process.env) {
  return loadServiceConfig(
    'scheduler',
    schedulerEnvSchema,
    (e) => ({
      scheduler: {
        fireMissedOnStart: e.SCHEDULER_FIRE_MISSED_ON_START,
        claimStaleMs: e.SCHEDULER_CLAIM_STALE_MS,
        pruneGraceMs: e.PRUNE_GRACE_MS,
        pruneCron: e.SCHEDULER_PRUNE_CRON,
        claimCleanupCron: e.SCHEDULER_CLAIM_CLEANUP_CRON,
        claimRetentionDays: e.SCHEDULER_CLAIM_RETENTION_DAYS,
        resyncIntervalMs: e.SCHEDULER_RESYNC_INTERVAL_MS,
        freshnessPollMs: e.SCHEDULER_FRESHNESS_POLL_MS,
        stageMinFires: e.SCHEDULER_STAGE_MIN_FIRES,
      },
    }),
    env,
  );
}

/**
 * Every replica must hear every config change, so each consumes config.changed in a consumer group of its
 * own (a shared group would hand the single partition to one replica only). Empty groups of dead instances
 * expire with the broker's offsets retention.
 */
export function schedulerConsumerGroup(config: Pick<SchedulerConfig, 'instanceId'>): string {
  return schedulerConsumerGroupOf(config.instanceId);
}
