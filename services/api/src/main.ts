import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { kafkaMicroservice } from '@model-persistence/messaging';
import { createLogger, runMain } from '@model-persistence/runtime';
import { AppModule } from './app.module';
import { loadApiConfig } from './config';

/** Hybrid app: the admin REST gateway over HTTP plus a Kafka consumer. */
export async function main() {
  const config = loadApiConfig();
  const logger = createLogger(config);
  const app = await NestFactory.create(AppModule.forRoot(config), { logger, bufferLogs: true });
  app.connectMicroservice(kafkaMicroservice(config.kafka, { groupId: config.consumerGroup }), {
    inheritAppConfig: true,
  });
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.http.port, config.http.host);
  logger.log(`api listening on ${await app.getUrl()}`);
  return app;
}

if (require.main === module) runMain(main);
