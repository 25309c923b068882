import { loadServiceConfig } from '@model-persistence/config';
import { z } from 'zod';

/** history configuration: base variables plus this service's own (README "Configuration"). */
export const historyEnvSchema = z.object({});

export type HistoryConfig = ReturnType<typeof loadHistoryConfig>;

export function loadHistoryConfig(env = process.env) {
  return loadServiceConfig('history', historyEnvSchema, () => ({ consumerGroup: 'history-projector' }), env);
}
