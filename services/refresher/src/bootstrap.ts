import { INestApplication, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SourceDatabaseRepository } from '@model-persistence/database';
import { kafkaMicroservice, Slots, weightedAssigner } from '@model-persistence/messaging';
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
 * loop. Within a partition the databases that share it (murmur2 puts several on one partition, none on others) run
 * at once, each database's requests in order; one Slots for the process keeps the total at
 * REFRESHER_CONCURRENCY × REFRESHER_PARTITIONS_PER_CONSUMER databases at once, as before. A request delivered
 * again while this process still runs it (a restarted consumer re-fetches from the committed offset while the old
 * batch's lanes finish) waits for that run (the handler's SingleFlight).
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
  const keySlots = new Slots(config.concurrency * config.partitionsPerConsumer);
  for (let i = 0; i < config.concurrency; i++) {
    app.connectMicroservice(
      kafkaMicroservice(config.kafka, {
        groupId: config.consumerGroup,
        concurrency: config.partitionsPerConsumer,
        partitionAssigners: [assigner],
        keySlots,
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
