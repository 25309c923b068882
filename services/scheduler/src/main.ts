import 'reflect-metadata';
import { runMain, startKafkaService } from '@model-persistence/runtime';
import { AppModule } from './app.module';
import { loadSchedulerConfig } from './config';

export async function main() {
  const config = loadSchedulerConfig();
  return startKafkaService(AppModule.forRoot(config), config, { groupId: config.consumerGroup });
}

if (require.main === module) runMain(main);
