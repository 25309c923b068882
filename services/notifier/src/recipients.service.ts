import { Injectable } from '@nestjs/common';
import { AdminUserRepository, SettingKey, SettingRepository } from '@model-persistence/database';
import { parseRecipients } from './email-templates';

/** Alert recipients: the `admin-email` setting (comma-separated) plus every active admin user. */
@Injectable()
export class RecipientsService {
  constructor(
    private readonly settings: SettingRepository,
    private readonly admins: AdminUserRepository,
  ) {}

  async resolve(): Promise<string[]> {
    const [setting, admins] = await Promise.all([
      this.settings.get(SettingKey.AdminEmail),
      this.admins.findActive(),
    ]);
    return parseRecipients(
      [setting],
      admins.map((a) => a.email),
    );
  }
}
