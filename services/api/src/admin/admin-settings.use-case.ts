import { Injectable } from '@nestjs/common';
import { validateTimeZone } from '@model-persistence/cron';
import {
  AdminUserEntity,
  AdminUserRepository,
  SettingKey,
  SettingRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ChangeNotifier } from '../common/change-notifier';
import { parseInput } from '../common/ids';
import { adminEmailValue } from '../http/schemas';
import { isUniqueViolation } from '../common/pg-errors';

/** Settings an admin may change through /api/settings/:key (the rest have dedicated endpoints). */
export const WRITABLE_SETTINGS = [SettingKey.AdminEmail, SettingKey.ScheduleTimeZone] as const;
export type WritableSetting = (typeof WRITABLE_SETTINGS)[number];

/** Settings shown by GET /api/settings (instance-uuid and settings-version are internal). */
const VISIBLE_SETTINGS: SettingKey[] = [
  SettingKey.PersistedModelsEnabled,
  SettingKey.RefreshCronSchedule,
  SettingKey.ScheduleTimeZone,
  SettingKey.AdminEmail,
];

/** Alert recipients (admin-email setting + admin_user rows, read by the notifier) and the schedule time zone. */
@Injectable()
export class AdminSettingsUseCase {
  constructor(
    private readonly settings: SettingRepository,
    private readonly admins: AdminUserRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  async getSettings(): Promise<Record<string, string>> {
    const all = await this.settings.getAll();
    return Object.fromEntries(VISIBLE_SETTINGS.map((k) => [k, all[k]]));
  }

  /** The body's shape is validated at the edge; the value per key here (e-mail address, IANA time zone). */
  async setSetting(key: WritableSetting, value: string): Promise<void> {
    if (key === SettingKey.AdminEmail) parseInput(adminEmailValue, value, 'body.value');
    if (key === SettingKey.ScheduleTimeZone) validateTimeZone(value);
    await this.settings.set(key, value);
    // the time zone moves every fire time; admin-email concerns only the notifier, which reads it per alert
    if (key === SettingKey.ScheduleTimeZone) {
      await this.notifier.send(this.notifier.configChanged('setting', key, 'updated'));
    }
  }

  listAdmins(): Promise<AdminUserEntity[]> {
    return this.admins.findAll();
  }

  async getAdmin(id: number): Promise<AdminUserEntity> {
    const admin = await this.admins.findById(id);
    if (!admin) throw new DomainError(ErrorCode.NotFound, `Admin ${id} not found.`);
    return admin;
  }

  async addAdmin(input: { email: string; name?: string | null; active?: boolean }): Promise<AdminUserEntity> {
    if (await this.admins.findByEmail(input.email)) {
      throw new DomainError(ErrorCode.Conflict, `An admin with email ${input.email} already exists.`);
    }
    try {
      return await this.admins.create({
        email: input.email,
        name: input.name ?? null,
        active: input.active ?? true,
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new DomainError(ErrorCode.Conflict, `An admin with email ${input.email} already exists.`);
      }
      throw e;
    }
  }

  async removeAdmin(id: number): Promise<void> {
    if (!(await this.admins.delete(id))) throw new DomainError(ErrorCode.NotFound, `Admin ${id} not found.`);
  }
}
