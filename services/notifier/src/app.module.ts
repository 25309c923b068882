import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, InboxPurgeModule } from '@model-persistence/runtime';
import { CompleteRunUseCase } from './complete-run.use-case';
import { NotifierConfig } from './config';
import { MailerService } from './mailer.service';
import { NotifierPurgeJob } from './notifier-purge.job';
import { OutboxSender } from './outbox-sender.service';
import { RecipientsService } from './recipients.service';
import { RecordRefreshFailureUseCase } from './record-refresh-failure.use-case';
import { RecordRefreshSuccessUseCase } from './record-refresh-success.use-case';
import { RefreshEventsHandler } from './refresh-events.handler';
import { RunAlertService } from './run-alert.service';
import { RunEventRecorder } from './run-event-recorder.service';

@Module({})
export class AppModule {
  static forRoot(config: NotifierConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, config.consumerGroup),
        InboxPurgeModule.forRoot(config.inboxPurge),
      ],
      controllers: [RefreshEventsHandler],
      providers: [
        MailerService,
        RecipientsService,
        RunAlertService,
        RunEventRecorder,
        OutboxSender,
        NotifierPurgeJob,
        RecordRefreshFailureUseCase,
        RecordRefreshSuccessUseCase,
        CompleteRunUseCase,
      ],
    };
  }
}
