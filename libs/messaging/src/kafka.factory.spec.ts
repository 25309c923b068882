import { loadBaseConfig } from '@model-persistence/config';
import { kafkaClientConfig } from './kafka.factory';

describe('kafkaClientConfig: every client gets the configured TLS and SASL', () => {
  it('plaintext without SASL by default', () => {
    const c = kafkaClientConfig(loadBaseConfig('api', {}).kafka, 'api');
    expect(c.ssl).toBeUndefined();
    expect(c.sasl).toBeUndefined();
  });

  it('passes SCRAM credentials and TLS verification settings to kafkajs', () => {
    const kafka = loadBaseConfig('api', {
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'mp',
      KAFKA_SASL_PASSWORD: 'pw-123',
      KAFKA_SSL: 'true',
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
    }).kafka;
    const c = kafkaClientConfig(kafka, 'api-consumer');
    expect(c.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'mp', password: 'pw-123' });
    expect(c.ssl).toEqual({ rejectUnauthorized: false });
    expect(c.clientId).toBe('api-consumer');
  });
});
