import { allTopics } from '@model-persistence/contracts';
import { DomainError, ErrorCode, errorMessage } from '@model-persistence/errors';
import { Admin, Kafka } from 'kafkajs';
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
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          ...t,
          replicationFactor,
          configEntries: [{ name: 'min.insync.replicas', value: String(minInsync) }],
        })),
      });
    } catch (e) {
      // The topics are created, but a (KRaft) broker can answer the metadata request that follows before it
      // learned of them: UNKNOWN_TOPIC_OR_PARTITION, which kafkajs does not retry there (only
      // LEADER_NOT_AVAILABLE). Wait for their leaders here instead of failing the start-up.
      if (!isRetriableKafkaError(e)) throw e;
      await waitForLeaders(
        admin,
        missing.map((t) => t.topic),
        LEADERS_TIMEOUT_MS,
      );
    }
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

const LEADERS_TIMEOUT_MS = 30_000;

function isRetriableKafkaError(e: unknown): boolean {
  return (e as { retriable?: unknown } | null)?.retriable === true;
}

/** Polls the topics' metadata until every partition has a leader; retriable errors meanwhile are waited out. */
export async function waitForLeaders(
  admin: Pick<Admin, 'fetchTopicMetadata'>,
  topics: string[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
    let last: unknown;
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      const led = found.filter((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (led.length === topics.length) return;
      last = `${topics.length - led.length} topic(s) without a leader for every partition`;
    } catch (e) {
      if (!isRetriableKafkaError(e)) throw e;
      last = e;
    }
    if (Date.now() + delay > deadline)
      throw new Error(
        `topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms: ${errorMessage(last)}`,
      );
    await new Promise((r) => setTimeout(r, delay));
  }
}
