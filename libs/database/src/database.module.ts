import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppDatabaseOptions, createAppDataSource } from './data-source';
import {
  AdminUserRepository,
  AlertRepository,
  ApiTokenRepository,
  CardRepository,
  InboxRepository,
  IndividualRunReadsRepository,
  NotificationOutboxRepository,
  PersistedInfoRepository,
  PersistedInfoQueryRepository,
  RunCompletionRepository,
  ScheduleClaimRepository,
  SettingRepository,
  SignInCodeRepository,
  SourceDatabaseRepository,
  TaskHistoryRepository,
} from './repositories';
import { UnitOfWork } from './unit-of-work';

export const REPOSITORIES = [
  AdminUserRepository,
  AlertRepository,
  ApiTokenRepository,
  CardRepository,
  InboxRepository,
  IndividualRunReadsRepository,
  NotificationOutboxRepository,
  PersistedInfoRepository,
  PersistedInfoQueryRepository,
  RunCompletionRepository,
  ScheduleClaimRepository,
  SettingRepository,
  SignInCodeRepository,
  SourceDatabaseRepository,
  TaskHistoryRepository,
  // the one transaction idiom: several repository calls in one app-database transaction
  UnitOfWork,
];

@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** Provides the initialized app DataSource and every repository. Only repositories touch TypeORM. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(
    opts: AppDatabaseOptions,
    extraRepositories: (new (ds: DataSource) => unknown)[] = [],
  ): DynamicModule {
    const repositories = [...REPOSITORIES, ...extraRepositories];
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async () => createAppDataSource(opts).initialize(),
        },
        DataSourceCloser,
        ...repositories,
      ],
      exports: [DataSource, ...repositories],
    };
  }
}
