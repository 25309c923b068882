/** Keys of the `setting` table, shared by every service. */
export const SettingKey = {
  PersistedModelsEnabled: 'persisted-models-enabled',
  RefreshCronSchedule: 'persisted-model-refresh-cron-schedule',
  ScheduleTimeZone: 'persisted-model-schedule-timezone',
  AdminEmail: 'admin-email',
  SettingsVersion: 'settings-version',
  /** Written once by the first migration; its short hash names the cache schemas of this installation. */
  InstanceUuid: 'instance-uuid',
} as const;
export type SettingKey = (typeof SettingKey)[keyof typeof SettingKey];

export const SETTING_DEFAULTS: Record<SettingKey, string> = {
  [SettingKey.PersistedModelsEnabled]: 'false',
  [SettingKey.RefreshCronSchedule]: '0 0 0/6 * * ? *',
  [SettingKey.ScheduleTimeZone]: 'UTC',
  [SettingKey.AdminEmail]: '',
  [SettingKey.SettingsVersion]: '1',
  [SettingKey.InstanceUuid]: '',
};
