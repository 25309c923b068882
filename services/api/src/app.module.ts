import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { CoreModule, OpsGaugesModule } from '@model-persistence/runtime';
import { AdminSettingsUseCase } from './admin/admin-settings.use-case';
import { AdminController } from './admin/admin.controller';
import { TokenService } from './auth/token.service';
import { ChangeNotifier } from './common/change-notifier';
import { SOURCE_DB, SourceDbPort, sourceDbFromLib } from '@model-persistence/source-db';
import { ApiConfig } from './config';
import { HealthController } from './health/health.controller';
import { ReadinessService } from './health/readiness.service';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { CardPersistenceUseCase } from './model-persistence/card-persistence.use-case';
import { CanPersistCheck } from './model-persistence/can-persist-check';
import { DatabasePersistenceUseCase } from './model-persistence/database-persistence.use-case';
import { ModelPersistenceController } from './model-persistence/model-persistence.controller';
import { PersistedInfoQueryUseCase } from './model-persistence/persisted-info-query.use-case';
import { PersistenceSettingsUseCase } from './model-persistence/persistence-settings.use-case';
import { ModelReferenceCheck } from './registry/model-reference-check';
import { LineageUseCase } from './model-persistence/lineage.use-case';
import { CardRegistryUseCase } from './registry/card-registry.use-case';
import { CardsController } from './registry/cards.controller';
import { CacheSchemaNames } from './registry/cache-schema-names';
import { DatabaseRegistryUseCase } from './registry/database-registry.use-case';
import { DatabasesController } from './registry/databases.controller';
import { TaskHistoryController } from './task-history/task-history.controller';
import { TaskHistoryUseCase } from './task-history/task-history.use-case';
import { CanPersistCheckController } from './console/can-persist-check.controller';
import { CanPersistCheckUseCase } from './console/can-persist-check.use-case';
import { CronPreviewController } from './console/cron-preview.controller';
import { DevMailController } from './console/dev-mail.controller';
import { EventTailController } from './event-tail/event-tail.controller';
import { EventTailService } from './event-tail/event-tail.service';
import { ApiTokensController } from './tokens/api-tokens.controller';
import { ApiTokensUseCase } from './tokens/api-tokens.use-case';
import { SignInController } from './sign-in/sign-in.controller';
import { SignInUseCase } from './sign-in/sign-in.use-case';

export interface AppModuleOptions {
  /** Replaces the source-db engine layer (tests of failure paths). */
  sourceDb?: SourceDbPort;
}

@Module({})
export class AppModule {
  static forRoot(config: ApiConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, config.consumerGroup),
        // Models-by-state, staleness, consumer-lag and dead-letter gauges: registered here only, once.
        OpsGaugesModule.forRoot(config),
      ],
      controllers: [
        HealthController,
        ModelPersistenceController,
        DatabasesController,
        CardsController,
        AdminController,
        TaskHistoryController,
        // the admin console's read views (issue 15)
        EventTailController,
        CronPreviewController,
        CanPersistCheckController,
        DevMailController,
        ApiTokensController,
        SignInController,
      ],
      providers: [
        { provide: SOURCE_DB, useFactory: () => options.sourceDb ?? sourceDbFromLib() },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        TokenService,
        ReadinessService,
        ChangeNotifier,
        PersistenceSettingsUseCase,
        CanPersistCheck,
        DatabasePersistenceUseCase,
        CardPersistenceUseCase,
        PersistedInfoQueryUseCase,
        DatabaseRegistryUseCase,
        CacheSchemaNames,
        CardRegistryUseCase,
        ModelReferenceCheck,
        LineageUseCase,
        AdminSettingsUseCase,
        TaskHistoryUseCase,
        EventTailService,
        CanPersistCheckUseCase,
        ApiTokensUseCase,
        SignInUseCase,
      ],
    };
  }
}
