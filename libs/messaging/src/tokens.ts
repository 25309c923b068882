export const KAFKA = Symbol('KAFKA');
export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface MessagingOptions {
  topicPrefix: string;
  partitions: number;
  /** Topic durability for the topics this service creates. */
  replicationFactor?: number;
  minInsyncReplicas?: number;
  /** Kafka consumer group of this service (also the inbox consumer name). */
  consumerGroup?: string;
}
