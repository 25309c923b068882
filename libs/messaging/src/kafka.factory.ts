import { Logger } from '@nestjs/common';
import { KafkaConfig as AppKafkaConfig } from '@model-persistence/config';
import { Kafka, logLevel, LogEntry } from 'kafkajs';

const logger = new Logger('kafkajs');

/** kafkajs logs routed to the Nest logger (JSON when LOG_JSON is set). */
function logCreator() {
  return ({ level, log }: LogEntry) => {
    const { message, ...extra } = log;
    const line = `${message} ${JSON.stringify(extra)}`;
    if (level === logLevel.ERROR) logger.error(line);
    else if (level === logLevel.WARN) logger.warn(line);
    else logger.debug(line);
  };
}

export function kafkaClientConfig(config: AppKafkaConfig, clientId: string) {
  return {
    clientId,
    brokers: config.brokers,
    logLevel: logLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  };
}

export function createKafka(config: AppKafkaConfig, clientId = config.clientId): Kafka {
  return new Kafka(kafkaClientConfig(config, clientId));
}
