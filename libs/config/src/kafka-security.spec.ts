import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeKafkaSecurity, loadBaseConfig } from './index';

const failure = (env: Record<string, string>): string => {
  try {
    loadBaseConfig('api', env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('Kafka security and durability settings', () => {
  it('defaults to plaintext without SASL and one replica (local development)', () => {
    const c = loadBaseConfig('api', {});
    expect(c.kafka.sasl).toBeUndefined();
    expect(c.kafka.ssl).toBeUndefined();
    expect(c.kafka.replicationFactor).toBe(1);
    expect(c.kafka.minInsyncReplicas).toBe(1);
  });

  it('reads SCRAM credentials, TLS with a CA file and production replication', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kafka-ca-'));
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(join(dir, 'ca.pem'), pem);
    const c = loadBaseConfig('api', {
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'model-persistence',
      KAFKA_SASL_PASSWORD: 's3cret-pw',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: join(dir, 'ca.pem'),
      KAFKA_REPLICATION_FACTOR: '3',
      KAFKA_MIN_INSYNC_REPLICAS: '2',
    });
    expect(c.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'model-persistence',
      password: 's3cret-pw',
    });
    expect(c.kafka.ssl).toEqual({ ca: pem, rejectUnauthorized: true });
    expect(c.kafka.replicationFactor).toBe(3);
    expect(c.kafka.minInsyncReplicas).toBe(2);
    expect(describeKafkaSecurity(c.kafka)).toBe('TLS, SASL SCRAM-SHA-512 as model-persistence');
  });

  it('refuses incomplete or inconsistent settings without printing the password', () => {
    const noUser = failure({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
    expect(noUser).toContain('KAFKA_SASL_USERNAME (unset): required');
    expect(noUser).not.toContain('hunter2-secret');
    const noMechanism = failure({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
    expect(noMechanism).toContain('KAFKA_SASL_MECHANISM (unset)');
    expect(noMechanism).not.toContain('hunter2-secret');
    expect(
      failure({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
    ).toContain('KAFKA_SASL_MECHANISM');
    expect(
      failure({
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'hunter2-secret',
      }),
    ).toMatch(/plain.*KAFKA_SSL=true/);
    expect(failure({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' })).toContain(
      'KAFKA_SSL_CA_FILE ("/nonexistent/ca.pem"): cannot be read (ENOENT)',
    );
    expect(failure({ KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '2' })).toContain(
      'must not exceed KAFKA_REPLICATION_FACTOR',
    );
  });
});
