import { INestApplication, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SourceDatabaseRepository } from '@model-persistence/database';
import { kafkaMicroservice, weightedAssigner } from '@model-persistence/messaging';
import { attachOpsServer, createLogger } from '@model-persistence/runtime';
import { AppModule } from './app.module';
import { RefresherConfig } from './config';

/**
 * Starts a refresher with `config.concurrency` Kafka consumers in one consumer group, sharing one Nest app
 * (one app-database pool, one set of source drivers).
 *
 * Why several consumers rather than kafkajs' partitionsConsumedConcurrently: kafkajs fetches per broker and
 * waits for every batch of a fetch to be handled before fetching again, so a database run that takes minutes
 * would hold back requests for other databases that arrived in a later fetch. Each consumer has its own fetch
 * loop; one partition (= one database) is still handled by one consumer at a time. (Running the databases of one
 * partition at once, `keySlots` of libs/messaging's key lanes, is off: with it the broker-restart fault scenario
 * still saw 3 alert emails instead of 1 in one fresh-clone run, after the SingleFlight fix.)
 */
export async function startRefresher(
  config: RefresherConfig,
  logger: LoggerService | false = createLogger(config),
): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), {
    logger,
    bufferLogs: logger !== false,
    abortOnError: false,
  });
  app.enableShutdownHooks();
  // topics are ensured by the bootstrap hook before any consumer subscribes
  await app.init();
  // partitions weighed by the databases (and their models) murmur2 puts on them, so replicas share the work
  // rather than the partition count
  const databases = app.get(SourceDatabaseRepository);
  const assigner = weightedAssigner(
    () => databases.refreshWeights(),
    (error) =>
      new Logger('PartitionAssigner').warn(
        `partition weights unavailable, balancing by count: ${String(error)}`,
      ),
  );
  for (let i = 0; i < config.concurrency; i++) {
    app.connectMicroservice(
      kafkaMicroservice(config.kafka, {
        groupId: config.consumerGroup,
        concurrency: config.partitionsPerConsumer,
        partitionAssigners: [assigner],
      }),
      { inheritAppConfig: true },
    );
  }
  await app.startAllMicroservices();
  await attachOpsServer(app, config);
  if (logger)
    logger.log(
      `${config.service} started (instance ${config.instanceId}, group ${config.consumerGroup}, ${config.concurrency} consumers)`,
    );
  return app;
}
