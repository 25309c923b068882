import { allTopics } from '@model-persistence/contracts';
import { Kafka } from 'kafkajs';

/** Creates every topic of the contracts (idempotent). Called by services on start and by tests. */
export async function ensureTopics(kafka: Kafka, prefix: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = allTopics(prefix, partitions).filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({ ...t, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}
