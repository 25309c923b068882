/*
 * KAFKA_SSL / KAFKA_SSL_CA_FILE with SCRAM against a private broker whose only client listener is SASL_SSL, with
 * a certificate from a throw-away CA: the services' client (the one factory) creates the topics, publishes and
 * reads back; a client that does not trust that CA is refused at the TLS handshake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KafkaConfig, loadBaseConfig } from '@model-persistence/config';
import { createEvent, Topics } from '@model-persistence/contracts';
import {
  createTestTopics,
  makeTestCertificates,
  PrivateBroker,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { EventPublisher, kafkaClientConfig } from '../src/index';

describe('Kafka over TLS with SCRAM (SASL_SSL, private broker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-kafka-tls-'));
  const prefix = uniqueTopicPrefix('tls');
  const password = randomBytes(12).toString('hex');
  let broker: PrivateBroker;
  let caFile: string;
  const env = (extra: Record<string, string> = {}): KafkaConfig =>
    loadBaseConfig('tls-test', {
      KAFKA_BROKERS: broker.brokers,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: '1',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'mp-tls',
      KAFKA_SASL_PASSWORD: password,
      KAFKA_SSL: 'true',
      ...extra,
    }).kafka;

  beforeAll(async () => {
    const certs = makeTestCertificates(dir);
    caFile = certs.caFile;
    broker = await PrivateBroker.start({
      scram: { mechanism: 'SCRAM-SHA-256', username: 'mp-tls', password },
      tls: { keystorePem: certs.keystorePem },
    });
  }, 180_000);

  afterAll(async () => {
    await broker?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates topics, publishes and consumes with the CA from KAFKA_SSL_CA_FILE', async () => {
    const config = env({ KAFKA_SSL_CA_FILE: caFile });
    const kafka = await createTestTopics(config);
    const recorder = await new TopicRecorder(kafka, prefix, [Topics.RefreshRequested]).start();
    const publisher = new EventPublisher(kafka, { topicPrefix: prefix, partitions: 1 });
    try {
      const event = createEvent('RefreshRequested', { databaseId: 3, trigger: 'external' });
      await publisher.publish({ topic: Topics.RefreshRequested, key: '3', event });
      const [got] = await recorder.waitFor((m) => m.event?.eventId === event.eventId);
      expect(got.event).toEqual(event);
    } finally {
      await publisher.onApplicationShutdown();
      await recorder.stop();
    }
  });

  it('refuses a broker certificate the client does not trust (no KAFKA_SSL_CA_FILE: system CAs only)', async () => {
    const admin = new Kafka({ ...kafkaClientConfig(env(), 'tls-untrusted'), retry: { retries: 0 } }).admin();
    await expect(admin.connect()).rejects.toThrow(/certificate/i);
    await admin.disconnect().catch(() => undefined);
  });
});
