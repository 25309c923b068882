import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { DatabaseModule } from '@model-persistence/database';
import { MessagingModule } from '@model-persistence/messaging';
import { CompleteRunUseCase } from './complete-run.use-case';
import { NOTIFIER_SETTINGS, NotifierConfig } from './config';
import { MailerService } from './mailer.service';
import { OutboxSender } from './outbox-sender.service';
import { RecipientsService } from './recipients.service';
import { RecordRefreshFailureUseCase } from './record-refresh-failure.use-case';
import { RecordRefreshSuccessUseCase } from './record-refresh-success.use-case';
import { RefreshEventsHandler } from './refresh-events.handler';
import { RunAlertService } from './run-alert.service';

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
      controllers: [RefreshEventsHandler],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: NOTIFIER_SETTINGS, useValue: config },
        MailerService,
        RecipientsService,
        RunAlertService,
        OutboxSender,
        RecordRefreshFailureUseCase,
        RecordRefreshSuccessUseCase,
        CompleteRunUseCase,
      ],
    };
  }
}
