import { allTopics } from '@model-persistence/contracts';
import { DomainError, ErrorCode, errorMessage } from '@model-persistence/errors';
import { Kafka } from 'kafkajs';
import { isKafkaAuthenticationError } from './kafka.factory';

export interface TopicDurability {
  /** Replicas per partition (1 locally; 3 in production). */
  replicationFactor?: number;
  /** With acks=all a write needs this many in-sync replicas (1 locally; 2 in production). */
  minInsyncReplicas?: number;
}

/**
 * Creates every topic of the contracts (idempotent). Called by services on start and by tests. Refused
 * credentials become one clear error (the process exits with it) instead of a retry loop.
 */
export async function ensureTopics(
  kafka: Kafka,
  prefix: string,
  partitions: number,
  durability: TopicDurability = {},
): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = allTopics(prefix, partitions).filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    const replicationFactor = durability.replicationFactor ?? 1;
    const minInsync = durability.minInsyncReplicas ?? 1;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        ...t,
        replicationFactor,
        configEntries: [{ name: 'min.insync.replicas', value: String(minInsync) }],
      })),
    });
  } catch (e) {
    if (isKafkaAuthenticationError(e))
      throw new DomainError(
        ErrorCode.Unauthorized,
        `Kafka refused the credentials (check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD): ${errorMessage(e)}`,
        undefined,
        { cause: e },
      );
    throw e;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
