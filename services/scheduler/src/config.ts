import { loadServiceConfig } from '@model-persistence/config';
import { z } from 'zod';

/** scheduler configuration: base variables plus this service's own (README "Configuration"). */
export const schedulerEnvSchema = z.object({});

export type SchedulerConfig = ReturnType<typeof loadSchedulerConfig>;

export function loadSchedulerConfig(env = process.env) {
  return loadServiceConfig('scheduler', schedulerEnvSchema, () => ({ consumerGroup: 'scheduler' }), env);
}
