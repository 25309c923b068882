import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, Env, envBool, envInt, envString, parseEnv } from './env';
import { productionSecretProblems, schemaKeys } from './secrets';
import { kafkaSecurity, KafkaSecurityConfig, kafkaSecurityEnv } from './kafka-security';

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:19092';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/model_persistence';

/** Only for development and tests; production refuses to start with it. */
export const DEV_SECRETS_KEY = 'dev-only-secrets-key-change-me';

const logLevel = z.enum(['debug', 'info', 'warn', 'error']);

/** Variables every service reads. Documented in README "Configuration". */
export const baseEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  KAFKA_BROKERS: envString(DEFAULT_KAFKA_BROKERS).refine(
    (v) => v.split(',').every((b) => /^[^\s:,]+:\d{1,5}$/.test(b.trim())),
    'must be a comma-separated list of host:port',
  ),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may only contain letters, digits, ".", "_" and "-"')
    .max(100)
    .default('persistence.'),
  KAFKA_TOPIC_PARTITIONS: envInt(12, 1, 1000),
  KAFKA_SESSION_TIMEOUT_MS: envInt(30_000, 6_000, 300_000),
  ...kafkaSecurityEnv,
  DATABASE_URL: envString(DEFAULT_DATABASE_URL).refine(
    (v) => /^postgres(ql)?:\/\//.test(v),
    'must be a postgres:// connection URL',
  ),
  DATABASE_POOL_SIZE: envInt(10, 1, 200),
  LOG_LEVEL: logLevel.default('info'),
  LOG_JSON: envBool(false),
  INSTANCE_ID: z.string().min(1).max(100).optional(),
  METRICS_PORT: envInt(0, 0, 65535),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  CACHE_SCHEMA_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,15}$/, 'must be 1-16 lower-case letters or digits, starting with a letter')
    .default('mp'),
  SECRETS_KEY: z.string().min(16, 'must be at least 16 characters').default(DEV_SECRETS_KEY),
});

export interface KafkaConfig extends KafkaSecurityConfig {
  brokers: string[];
  clientId: string;
  topicPrefix: string;
  partitions: number;
  sessionTimeoutMs: number;
}

export interface BaseConfig {
  service: string;
  env: 'development' | 'test' | 'production';
  instanceId: string;
  kafka: KafkaConfig;
  database: { url: string; poolSize: number };
  log: { level: z.infer<typeof logLevel>; json: boolean };
  telemetry: { metricsPort: number; otlpEndpoint?: string };
  /** Key material for AES-256-GCM encryption of secrets at rest. */
  secretsKey: string;
  /** Cache schemas are named `<schemaPrefix>_cache_<instance hash>_<database id>`. */
  cache: { schemaPrefix: string };
}

/** `serviceKeys`: the service's own variables, checked for placeholders in production too. */
export function loadBaseConfig(
  service: string,
  env: Env = process.env,
  serviceKeys: readonly string[] = [],
): BaseConfig {
  const e = parseEnv(service, baseEnvSchema, env);
  if (e.NODE_ENV === 'production') {
    const problems = productionSecretProblems(env, [...Object.keys(baseEnvSchema.shape), ...serviceKeys]);
    if (problems.length > 0) throw new ConfigError(service, problems);
  }
  const kafkaProblems: string[] = [];
  const security = kafkaSecurity(e, kafkaProblems);
  if (kafkaProblems.length > 0) throw new ConfigError(service, kafkaProblems);
  const instanceId = e.INSTANCE_ID ?? `${service}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  return {
    service,
    env: e.NODE_ENV,
    instanceId,
    kafka: {
      brokers: e.KAFKA_BROKERS.split(',').map((b) => b.trim()),
      clientId: e.KAFKA_CLIENT_ID ?? service,
      topicPrefix: e.KAFKA_TOPIC_PREFIX,
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      ...security,
    },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    log: { level: e.LOG_LEVEL, json: e.LOG_JSON },
    telemetry: { metricsPort: e.METRICS_PORT, otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT },
    secretsKey: e.SECRETS_KEY,
    cache: { schemaPrefix: e.CACHE_SCHEMA_PREFIX },
  };
}

/**
 * Loads the base config plus a service's own section from one environment,
 * so a service's start-up fails once, listing every invalid variable.
 */
export function loadServiceConfig<S extends z.ZodType, T>(
  service: string,
  schema: S,
  build: (parsed: z.infer<S>) => T,
  env: Env = process.env,
): BaseConfig & T {
  // both sections are checked before failing, so one start-up lists every problem
  const problems: string[] = [];
  const attempt = <R>(fn: () => R): R | undefined => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
      return undefined;
    }
  };
  const base = attempt(() => loadBaseConfig(service, env, schemaKeys(schema)));
  const own = attempt(() => parseEnv(service, schema, env));
  if (!base || problems.length > 0) throw new ConfigError(service, problems);
  return { ...base, ...build(own as z.infer<S>) };
}

/** Injection token for the typed config object in Nest modules. */
export const APP_CONFIG = Symbol('APP_CONFIG');
