// Must stay the first import: starts OpenTelemetry before kafkajs, pg and http are loaded.
import '@model-persistence/telemetry/register';
import 'reflect-metadata';
import { runMain, startKafkaService } from '@model-persistence/runtime';
import { AppModule } from './app.module';
import { loadNotifierConfig } from './config';

export async function main() {
  const config = loadNotifierConfig();
  return startKafkaService(AppModule.forRoot(config), config, { groupId: config.consumerGroup });
}

if (require.main === module) runMain(main);
