import { AdminUserEntity } from './admin-user.entity';
import { AlertRunResultEntity } from './alert-run-result.entity';
import { AlertRunEntity } from './alert-run.entity';
import { AlertStateEntity } from './alert-state.entity';
import { NotificationOutboxEntity } from './notification-outbox.entity';
import { ApiTokenEntity } from './api-token.entity';
import { CardEntity } from './card.entity';
import { InboxEntity } from './inbox.entity';
import { PersistedInfoEntity } from './persisted-info.entity';
import { ScheduleClaimEntity } from './schedule-claim.entity';
import { SettingEntity } from './setting.entity';
import { SignInCodeEntity } from './sign-in-code.entity';
import { SourceDatabaseEntity } from './source-database.entity';
import { TaskHistoryEntity } from './task-history.entity';

export * from './admin-user.entity';
export * from './alert-run-result.entity';
export * from './alert-run.entity';
export * from './alert-state.entity';
export * from './notification-outbox.entity';
export * from './api-token.entity';
export * from './card.entity';
export * from './inbox.entity';
export * from './persisted-info.entity';
export * from './schedule-claim.entity';
export * from './setting.entity';
export * from './sign-in-code.entity';
export * from './source-database.entity';
export * from './task-history.entity';

export const ENTITIES = [
  AdminUserEntity,
  AlertRunEntity,
  AlertRunResultEntity,
  AlertStateEntity,
  NotificationOutboxEntity,
  ApiTokenEntity,
  CardEntity,
  InboxEntity,
  PersistedInfoEntity,
  ScheduleClaimEntity,
  SettingEntity,
  SignInCodeEntity,
  SourceDatabaseEntity,
  TaskHistoryEntity,
];
