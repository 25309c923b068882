import { envInt, loadServiceConfig } from '@model-persistence/config';
import { ConsumerGroups, consumerGroupSelectors } from '@model-persistence/contracts';
import { z } from 'zod';

/** api configuration: base variables plus HTTP and auth settings (README "Configuration"). */
export const apiEnvSchema = z.object({
  API_PORT: envInt(3000, 0, 65535),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_BOOTSTRAP_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  API_MAX_BODY_BYTES: envInt(1_048_576, 1024, 50 * 1_048_576),
  /** The refreshers' consumer group (same variable as the refresher's), for the consumer-lag gauge. */
  /** Base of the console sign-in links (same variable as the notifier's); unset: the request's own host. */
  APP_BASE_URL: z.url().optional(),
  REFRESHER_CONSUMER_GROUP: z.string().min(1).max(200).default(ConsumerGroups.refresher.defaultGroup),
});

export type ApiConfig = ReturnType<typeof loadApiConfig>;

export function loadApiConfig(env = process.env) {
  return loadServiceConfig(
    'api',
    apiEnvSchema,
    (e) => ({
      consumerGroup: 'api',
      http: { port: e.API_PORT, host: e.API_HOST, maxBodyBytes: e.API_MAX_BODY_BYTES },
      bootstrapToken: e.API_BOOTSTRAP_TOKEN,
      appBaseUrl: e.APP_BASE_URL?.replace(/\/+$/, ''),
      lagGroups: consumerGroupSelectors({ refresherGroup: e.REFRESHER_CONSUMER_GROUP }),
    }),
    env,
  );
}
