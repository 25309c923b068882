import { DynamicModule, INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BaseConfig, ConfigError } from '@model-persistence/config';
import { ConsumerOptions, kafkaMicroservice } from '@model-persistence/messaging';
import { createLogger } from './logger';

/** Starts a Kafka microservice: typed config already validated, JSON logs, graceful shutdown on SIGTERM/SIGINT. */
export async function startKafkaService(
  module: Type<unknown> | DynamicModule,
  config: BaseConfig,
  consumer: ConsumerOptions,
): Promise<INestMicroservice> {
  const logger = createLogger(config);
  const app = await NestFactory.createMicroservice(module, {
    ...kafkaMicroservice(config.kafka, consumer),
    logger,
    bufferLogs: true,
  });
  app.enableShutdownHooks();
  await app.listen();
  logger.log(`${config.service} started (instance ${config.instanceId}, group ${consumer.groupId})`);
  return app;
}

/** Runs a service's main(): a config error prints its list and exits 78 (EX_CONFIG); anything else exits 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((e: unknown) => {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(78);
    }
    console.error(e);
    process.exit(1);
  });
}
