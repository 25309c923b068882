import { DynamicModule, Module, Provider } from '@nestjs/common';
import { SingleFlight } from '@model-persistence/messaging';
import { CoreModule, InboxPurgeModule } from '@model-persistence/runtime';
import { RefresherConfig } from './config';
import { CrashRecoveryService } from './crash-recovery.service';
import { ModelSqlResolver } from './model-sql.resolver';
import { ModelRefreshService } from './model-refresh.service';
import { PruneRequestedHandler } from './prune-requested.handler';
import { PruneUseCase } from './prune.use-case';
import { RefreshRequestedHandler } from './refresh-requested.handler';
import { RefreshRunUseCase } from './refresh-run.use-case';
import { sourceDbFromLib, SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';
import { SourceDrivers } from './source-drivers.service';

@Module({})
export class AppModule {
  /** `sourceDb` is replaceable for unit tests only; integration tests and production use the real engine layer. */
  static forRoot(config: RefresherConfig, sourceDb: SourceDbPort = sourceDbFromLib()): DynamicModule {
    const providers: Provider[] = [
      { provide: SOURCE_DB, useValue: sourceDb },
      SourceDrivers,
      ModelRefreshService,
      ModelSqlResolver,
      CrashRecoveryService,
      RefreshRunUseCase,
      PruneUseCase,
      // one per app (= process in production): every consumer's deliveries of one request go through it
      { provide: SingleFlight, useFactory: () => new SingleFlight() },
    ];
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, config.consumerGroup),
        InboxPurgeModule.forRoot(config.inboxPurge),
      ],
      controllers: [RefreshRequestedHandler, PruneRequestedHandler],
      providers,
    };
  }
}
