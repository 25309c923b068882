import { AdminUserEntity } from './admin-user.entity';
import { ApiTokenEntity } from './api-token.entity';
import { CardEntity } from './card.entity';
import { InboxEntity } from './inbox.entity';
import { PersistedInfoEntity } from './persisted-info.entity';
import { ScheduleClaimEntity } from './schedule-claim.entity';
import { SettingEntity } from './setting.entity';
import { SourceDatabaseEntity } from './source-database.entity';
import { TaskHistoryEntity } from './task-history.entity';

export * from './admin-user.entity';
export * from './api-token.entity';
export * from './card.entity';
export * from './inbox.entity';
export * from './persisted-info.entity';
export * from './schedule-claim.entity';
export * from './setting.entity';
export * from './source-database.entity';
export * from './task-history.entity';

export const ENTITIES = [
  AdminUserEntity,
  ApiTokenEntity,
  CardEntity,
  InboxEntity,
  PersistedInfoEntity,
  ScheduleClaimEntity,
  SettingEntity,
  SourceDatabaseEntity,
  TaskHistoryEntity,
];
