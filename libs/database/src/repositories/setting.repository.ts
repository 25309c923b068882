import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { SettingEntity } from '../entities';
import { SETTING_DEFAULTS, SettingKey } from '../settings';

@Injectable()
export class SettingRepository {
  constructor(private readonly ds: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(SettingEntity);
  }

  async get(key: SettingKey, manager?: EntityManager): Promise<string> {
    const row = await this.repo(manager).findOneBy({ key });
    return row?.value ?? SETTING_DEFAULTS[key];
  }

  /** The value with the time it was last written (null when never written: the default applies). */
  async getEntry(
    key: SettingKey,
    manager?: EntityManager,
  ): Promise<{ value: string; updatedAt: Date | null }> {
    const row = await this.repo(manager).findOneBy({ key });
    return row
      ? { value: row.value, updatedAt: row.updatedAt }
      : { value: SETTING_DEFAULTS[key], updatedAt: null };
  }

  async getBoolean(key: SettingKey, manager?: EntityManager): Promise<boolean> {
    return (await this.get(key, manager)) === 'true';
  }

  async set(key: SettingKey, value: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).upsert({ key, value }, ['key']);
  }

  async getAll(manager?: EntityManager): Promise<Record<SettingKey, string>> {
    const rows = await this.repo(manager).find();
    const out = { ...SETTING_DEFAULTS };
    for (const r of rows) if (r.key in out) out[r.key as SettingKey] = r.value;
    return out;
  }
}
