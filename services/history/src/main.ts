// Must stay the first import: starts OpenTelemetry before kafkajs, pg and http are loaded.
import '@model-persistence/telemetry/register';
import 'reflect-metadata';
import { runMain, startKafkaService } from '@model-persistence/runtime';
import { AppModule } from './app.module';
import { loadHistoryConfig } from './config';

export async function main() {
  const config = loadHistoryConfig();
  return startKafkaService(AppModule.forRoot(config), config, {
    groupId: config.consumerGroup,
    concurrency: config.history.concurrency,
  });
}

if (require.main === module) runMain(main);
