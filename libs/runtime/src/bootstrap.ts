import { DynamicModule, INestApplication, INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BaseConfig, ConfigError } from '@model-persistence/config';
import { ConsumerOptions, kafkaMicroservice } from '@model-persistence/messaging';
import { createLogger } from './logger';
import { OpsServer, startOpsServer } from './ops-server';

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
  await attachOpsServer(app, config);
  logger.log(`${config.service} started (instance ${config.instanceId}, group ${consumer.groupId})`);
  return app;
}

/**
 * Serves /metrics, /health and /ready on METRICS_PORT (0 = off) once the app listens. Readiness follows the
 * Kafka consumer (a crashed or stopped consumer is not ready) and drops on SIGTERM/SIGINT, before shutdown;
 * `dependencies`, when given, must also resolve (e.g. the api: app database and Kafka answer).
 */
export async function attachOpsServer(
  app: INestMicroservice | INestApplication,
  config: Pick<BaseConfig, 'telemetry'>,
  dependencies?: () => Promise<unknown>,
): Promise<OpsServer | undefined> {
  if (config.telemetry.metricsPort <= 0) return undefined;
  const microservices = 'getMicroservices' in app ? app.getMicroservices() : [app];
  const healthy = microservices.map(() => true);
  microservices.forEach((ms, i) => {
    ms.status.subscribe((status) => {
      if (status === 'connected') healthy[i] = true;
      else if (status === 'crashed' || status === 'stopped') healthy[i] = false;
    });
  });
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const server = await startOpsServer({
    port: config.telemetry.metricsPort,
    ready: async () => {
      if (stopping || !healthy.every(Boolean)) return false;
      if (dependencies) await dependencies();
      return true;
    },
  });
  const close = app.close.bind(app);
  app.close = async () => {
    stopping = true;
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await server.close();
    await close();
  };
  return server;
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
