import { SecretBox, SourceDatabaseEntity } from '@model-persistence/database';
import { ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { recordingNotifier } from '../../test/fakes';
import { DatabaseInput, DatabaseRegistryUseCase } from './database-registry.use-case';

const config = { secretsKey: 'unit-test-secrets-key' } as ApiConfig;
const input: DatabaseInput = {
  name: 'src',
  engine: 'postgres',
  host: 'h',
  port: 5432,
  dbName: 'd',
  user: 'u',
  password: 'pw',
};

function setup(opts: { existing?: Partial<SourceDatabaseEntity>[]; rows?: { state: string }[] } = {}) {
  const stored = (opts.existing ?? []).map((d, i) => ({ id: i + 1, ...d }) as SourceDatabaseEntity);
  const databases = {
    repo: () => ({
      findOneBy: async ({ name }: { name: string }) => stored.find((d) => d.name === name) ?? null,
    }),
    findById: async (id: number) => stored.find((d) => d.id === id) ?? null,
    create: jest.fn(async (v: Partial<SourceDatabaseEntity>) => {
      const db = { id: stored.length + 1, ...v } as SourceDatabaseEntity;
      stored.push(db);
      return db;
    }),
    update: jest.fn(async () => undefined),
    delete: jest.fn(async () => true),
  };
  const persistedInfo = { findByDatabase: async () => opts.rows ?? [] };
  const rec = recordingNotifier();
  const useCase = new DatabaseRegistryUseCase(
    config,
    databases as never,
    persistedInfo as never,
    rec.notifier,
  );
  return { useCase, databases, rec };
}

describe('DatabaseRegistryUseCase', () => {
  it('stores the password encrypted only and announces the new database', async () => {
    const s = setup();
    const db = await s.useCase.create(input);
    const columns = s.databases.create.mock.calls[0][0];
    expect(columns).toMatchObject({ name: 'src', username: 'u', dbName: 'd' });
    expect(JSON.stringify(columns)).not.toContain('"pw"');
    expect(new SecretBox(config.secretsKey).decrypt(columns.passwordEncrypted as string)).toBe('pw');
    expect(s.rec.events()).toMatchObject([{ entity: 'database', entityId: db.id, change: 'created' }]);
  });

  it('refuses a duplicate name (409) and lets a database keep its own name', async () => {
    const s = setup({ existing: [{ name: 'src' }, { name: 'other' }] });
    await expect(s.useCase.create(input)).rejects.toMatchObject({ code: ErrorCode.Conflict });
    await expect(s.useCase.update(2, { name: 'src' })).rejects.toMatchObject({ code: ErrorCode.Conflict });
    await s.useCase.update(1, { name: 'src', password: null });
    expect(s.databases.update).toHaveBeenCalledWith(1, { name: 'src', passwordEncrypted: null });
  });

  it('refuses to delete while cache tables may remain (409), deletes otherwise', async () => {
    const busy = setup({ existing: [{ name: 'a' }], rows: [{ state: 'off' }, { state: 'deletable' }] });
    await expect(busy.useCase.delete(1)).rejects.toMatchObject({ code: ErrorCode.Conflict });
    expect(busy.databases.delete).not.toHaveBeenCalled();
    const idle = setup({ existing: [{ name: 'a' }], rows: [{ state: 'off' }] });
    await idle.useCase.delete(1);
    expect(idle.databases.delete).toHaveBeenCalledWith(1);
    expect(idle.rec.events()).toMatchObject([{ entity: 'database', change: 'deleted' }]);
    await expect(setup().useCase.delete(9)).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });
});

describe('changing the connection target', () => {
  const stored: Partial<SourceDatabaseEntity> = {
    name: 'src',
    engine: 'postgres',
    host: 'h',
    port: 5432,
    username: 'u',
    passwordEncrypted: 'x',
  };

  it.each([{ host: 'other' }, { port: 6432 }, { user: 'v' }, { engine: 'mysql' as const }])(
    'drops the stored password when %p changes without a new one',
    async (change) => {
      const s = setup({ existing: [stored] });
      const r = await s.useCase.update(1, change);
      expect(r.passwordCleared).toBe(true);
      expect(s.databases.update).toHaveBeenCalledWith(
        1,
        expect.objectContaining({ passwordEncrypted: null }),
      );
    },
  );

  it('keeps it for the same values, other fields, or a new password in the same request', async () => {
    for (const change of [
      { host: 'h', port: 5432 },
      { name: 'renamed' },
      { host: 'other', password: 'new' },
    ]) {
      const s = setup({ existing: [stored] });
      const r = await s.useCase.update(1, change);
      expect(r.passwordCleared).toBe(false);
      const columns = (s.databases.update.mock.calls as unknown[][])[0][1] as Record<string, unknown>;
      expect(columns.passwordEncrypted).not.toBeNull();
    }
  });
});

describe('TLS settings', () => {
  it('refuses a CA without verification, and verify-full to a MySQL IP address (400)', async () => {
    const s = setup();
    await expect(s.useCase.create({ ...input, tlsMode: 'require', tlsCaCert: 'pem' })).rejects.toMatchObject({
      code: ErrorCode.ValidationFailed,
    });
    await expect(
      s.useCase.create({ ...input, engine: 'mysql', host: '10.0.0.5', tlsMode: 'verify-full' }),
    ).rejects.toMatchObject({ code: ErrorCode.ValidationFailed });
    await s.useCase.create({ ...input, engine: 'mysql', host: 'db.internal', tlsMode: 'verify-full' });
    expect(s.databases.create).toHaveBeenCalledTimes(1);
  });
});
