import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_CONFIG, BaseConfig } from '@model-persistence/config';
import { DatabaseModule } from '@model-persistence/database';
import { MessagingModule } from '@model-persistence/messaging';

/**
 * What every service module imports: the typed config (APP_CONFIG), the app database with its repositories,
 * and Kafka (publisher, dead-letter publisher, message processor) for the service's consumer group.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: BaseConfig, consumerGroup?: string): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.database.url,
          poolSize: config.database.poolSize,
          applicationName: config.service,
        }),
        MessagingModule.forRoot(config.kafka, consumerGroup),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG, DatabaseModule, MessagingModule],
    };
  }
}
