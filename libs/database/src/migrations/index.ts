import { InitialSchema1764460800000 } from './1764460800000-initial-schema';
import { NotifierAlerts1795986493652 } from './1795986493652-notifier-alerts';
import { TaskHistoryLastEvent1795986536360 } from './1795986536360-task-history-last-event';
import { NotificationOutboxTraceContext1795990627696 } from './1795990627696-notification-outbox-trace-context';
import { RefreshFencing1796100000000 } from './1796100000000-refresh-fencing';
import { ApiTokensAndSourceTls1796100000001 } from './1796100000001-api-tokens-and-source-tls';
import { SignInLinks1796200000100 } from './1796200000100-sign-in-links';
import { ManagedIndexesIncremental1796200000300 } from './1796200000300-managed-indexes-incremental';
import { AlertSkippedResults1796200000400 } from './1796200000400-alert-skipped-results';
import { ChangeDetection1796300000100 } from './1796300000100-change-detection';
import { FreshnessTarget1796300000200 } from './1796300000200-freshness-target';

/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
export const MIGRATIONS = [
  InitialSchema1764460800000,
  NotifierAlerts1795986493652,
  TaskHistoryLastEvent1795986536360,
  NotificationOutboxTraceContext1795990627696,
  RefreshFencing1796100000000,
  ApiTokensAndSourceTls1796100000001,
  SignInLinks1796200000100,
  ManagedIndexesIncremental1796200000300,
  AlertSkippedResults1796200000400,
  ChangeDetection1796300000100,
  FreshnessTarget1796300000200,
];
