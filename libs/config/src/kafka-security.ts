import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envBool, envInt } from './env';

/**
 * Kafka authentication, encryption and topic durability (README "Configuration"). Values are never echoed in
 * errors: a password or a CA path is named by its variable only.
 */
export const kafkaSecurityEnv = {
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .pipe(z.enum(['plain', 'scram-sha-256', 'scram-sha-512']))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_SSL: envBool(false),
  /** PEM file of the CA(s) that signed the brokers' certificates (default: the system's trusted CAs). */
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: envBool(true),
  KAFKA_REPLICATION_FACTOR: envInt(1, 1, 100),
  KAFKA_MIN_INSYNC_REPLICAS: envInt(1, 1, 100),
};

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSecurityConfig {
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  /** TLS to the brokers; `ca` is the PEM text of KAFKA_SSL_CA_FILE. */
  ssl?: { ca?: string; rejectUnauthorized: boolean };
  /** Topics the services create: replicas per partition, and acks=all needs this many in sync. */
  replicationFactor?: number;
  minInsyncReplicas?: number;
}

type KafkaSecurityEnv = {
  KAFKA_SASL_MECHANISM?: SaslMechanism;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE?: string;
  KAFKA_SSL_REJECT_UNAUTHORIZED: boolean;
  KAFKA_REPLICATION_FACTOR: number;
  KAFKA_MIN_INSYNC_REPLICAS: number;
};

/** Builds the Kafka security section; pushes a problem per inconsistent setting (never with its value). */
export function kafkaSecurity(e: KafkaSecurityEnv, problems: string[]): KafkaSecurityConfig {
  const out: KafkaSecurityConfig = {
    replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    minInsyncReplicas: e.KAFKA_MIN_INSYNC_REPLICAS,
  };
  if (e.KAFKA_MIN_INSYNC_REPLICAS > e.KAFKA_REPLICATION_FACTOR)
    problems.push(
      `KAFKA_MIN_INSYNC_REPLICAS (${e.KAFKA_MIN_INSYNC_REPLICAS}): must not exceed KAFKA_REPLICATION_FACTOR (${e.KAFKA_REPLICATION_FACTOR})`,
    );
  if (e.KAFKA_SASL_MECHANISM) {
    if (!e.KAFKA_SASL_USERNAME)
      problems.push('KAFKA_SASL_USERNAME (unset): required with KAFKA_SASL_MECHANISM');
    if (!e.KAFKA_SASL_PASSWORD)
      problems.push('KAFKA_SASL_PASSWORD (unset): required with KAFKA_SASL_MECHANISM');
    if (e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD)
      out.sasl = {
        mechanism: e.KAFKA_SASL_MECHANISM,
        username: e.KAFKA_SASL_USERNAME,
        password: e.KAFKA_SASL_PASSWORD,
      };
  } else if (e.KAFKA_SASL_USERNAME || e.KAFKA_SASL_PASSWORD) {
    problems.push(
      'KAFKA_SASL_MECHANISM (unset): set it (scram-sha-512, scram-sha-256 or plain) when giving Kafka credentials',
    );
  }
  if (e.KAFKA_SSL) {
    let ca: string | undefined;
    if (e.KAFKA_SSL_CA_FILE) {
      try {
        ca = readFileSync(e.KAFKA_SSL_CA_FILE, 'utf8');
        if (!ca.includes('-----BEGIN CERTIFICATE-----'))
          problems.push('KAFKA_SSL_CA_FILE: the file holds no PEM certificate');
      } catch (err) {
        problems.push(
          `KAFKA_SSL_CA_FILE (${JSON.stringify(e.KAFKA_SSL_CA_FILE)}): cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
    out.ssl = { ...(ca ? { ca } : {}), rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED };
  } else if (e.KAFKA_SSL_CA_FILE) {
    problems.push('KAFKA_SSL (false): set KAFKA_SSL=true to use KAFKA_SSL_CA_FILE');
  }
  if (out.sasl?.mechanism === 'plain' && !out.ssl)
    problems.push(
      'KAFKA_SASL_MECHANISM (plain): sends the password in clear; use it only with KAFKA_SSL=true',
    );
  return out;
}

/** What a log line may say about the Kafka connection (never credentials). */
export function describeKafkaSecurity(c: KafkaSecurityConfig): string {
  const auth = c.sasl ? `SASL ${c.sasl.mechanism.toUpperCase()} as ${c.sasl.username}` : 'no SASL';
  return `${c.ssl ? 'TLS' : 'plaintext'}, ${auth}`;
}
