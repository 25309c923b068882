import { loadServiceConfig } from '@model-persistence/config';
import { z } from 'zod';

/** notifier configuration: base variables plus this service's own (README "Configuration"). */
export const notifierEnvSchema = z.object({});

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;

export function loadNotifierConfig(env = process.env) {
  return loadServiceConfig('notifier', notifierEnvSchema, () => ({ consumerGroup: 'notifier' }), env);
}
