import { Logger } from '@nestjs/common';
import { KafkaConfig as AppKafkaConfig } from '@model-persistence/config';
import { KafkaConfig as KafkaJsConfig, Kafka, logLevel, LogEntry, SASLOptions } from 'kafkajs';

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

/**
 * The one place a kafkajs client is configured: every producer, consumer and admin of the services, the api, the
 * tests and the history replay gets the same brokers, TLS and SASL settings from here.
 */
export function kafkaClientConfig(config: AppKafkaConfig, clientId: string): KafkaJsConfig {
  return {
    clientId,
    brokers: config.brokers,
    ...(config.ssl
      ? {
          ssl: {
            rejectUnauthorized: config.ssl.rejectUnauthorized,
            ...(config.ssl.ca ? { ca: [config.ssl.ca] } : {}),
          },
        }
      : {}),
    ...(config.sasl ? { sasl: saslOptions(config.sasl) } : {}),
    logLevel: logLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  };
}

function saslOptions(sasl: NonNullable<AppKafkaConfig['sasl']>): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** kafkajs reports refused credentials this way; callers turn it into one clear start-up error. */
export function isKafkaAuthenticationError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return (
    name === 'KafkaJSSASLAuthenticationError' ||
    /SASL .*authentication failed/i.test(String((error as Error)?.message))
  );
}

export function createKafka(config: AppKafkaConfig, clientId = config.clientId): Kafka {
  return new Kafka(kafkaClientConfig(config, clientId));
}
