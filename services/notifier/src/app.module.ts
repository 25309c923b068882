import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { DatabaseModule } from '@model-persistence/database';
import { MessagingModule } from '@model-persistence/messaging';
import { NotifierConfig } from './config';

@Module({})
export class AppModule {
  static forRoot(config: NotifierConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.database.url,
          poolSize: config.database.poolSize,
          applicationName: config.service,
        }),
        MessagingModule.forRoot(config.kafka, config.consumerGroup),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }],
    };
  }
}
