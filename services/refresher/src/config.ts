import { loadServiceConfig } from '@model-persistence/config';
import { z } from 'zod';

/** refresher configuration: base variables plus this service's own (README "Configuration"). */
export const refresherEnvSchema = z.object({});

export type RefresherConfig = ReturnType<typeof loadRefresherConfig>;

export function loadRefresherConfig(env = process.env) {
  return loadServiceConfig('refresher', refresherEnvSchema, () => ({ consumerGroup: 'refresher' }), env);
}
