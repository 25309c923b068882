import { z } from 'zod';
import { describeValue } from './secrets';

/** Thrown once at start-up when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envBool = (fallback: boolean) => bool.default(fallback);
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
export const envString = (fallback: string) => z.string().min(1).default(fallback);

/** Parses env vars with a zod schema and reports every problem with its variable name. */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: Env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = issue.path.join('.') || '(environment)';
      const name = typeof issue.path[0] === 'string' ? issue.path[0] : '';
      // secrets are never printed; credentials inside URLs are masked
      return `${variable} (${describeValue(name, name ? env[name] : undefined)}): ${issue.message}`;
    });
    throw new ConfigError(service, problems);
  }
  return result.data;
}
