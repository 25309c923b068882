// Must stay the first import: starts OpenTelemetry before kafkajs, pg and http are loaded.
import '@model-persistence/telemetry/register';
import 'reflect-metadata';
import { kafkaMicroservice } from '@model-persistence/messaging';
import { attachOpsServer, createLogger, runMain } from '@model-persistence/runtime';
import { createApiApp } from './app.factory';
import { loadApiConfig } from './config';
import { ReadinessService } from './health/readiness.service';

/** Hybrid app: the admin REST gateway over HTTP plus a Kafka consumer. */
export async function main() {
  const config = loadApiConfig();
  const logger = createLogger(config);
  const app = await createApiApp(config, { logger });
  app.connectMicroservice(kafkaMicroservice(config.kafka, { groupId: config.consumerGroup }), {
    inheritAppConfig: true,
  });
  await app.startAllMicroservices();
  await app.listen(config.http.port, config.http.host);
  // The probes' endpoint (no token): ready only when the app database and Kafka answer, as on GET /ready.
  const readiness = app.get(ReadinessService);
  await attachOpsServer(app, config, () => readiness.check());
  logger.log(`api listening on ${await app.getUrl()}`);
  return app;
}

if (require.main === module) runMain(main);
