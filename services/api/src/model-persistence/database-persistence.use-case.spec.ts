import { SecretBox, SourceDatabaseEntity } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { CanPersistResult, SourceConnectionInfo, SourceDbPort } from '@model-persistence/source-db';
import { ApiConfig } from '../config';
import { fakeUnitOfWork, recordingNotifier } from '../../test/fakes';
import { CanPersistCheck } from './can-persist-check';
import { DatabasePersistenceUseCase } from './database-persistence.use-case';

const config = { secretsKey: 'unit-test-secrets-key', cache: { schemaPrefix: 'mp' } } as ApiConfig;

function setup(opts: {
  enabled?: boolean;
  db?: Partial<SourceDatabaseEntity> | null;
  check?: CanPersistResult;
}) {
  const opened: SourceConnectionInfo[] = [];
  const driver = {
    checkCanPersist: jest.fn(async () => opts.check ?? { ok: true }),
    close: jest.fn(async () => undefined),
  };
  const sourceDb = {
    cacheSchemaName: (prefix: string, uuid: string, id: number) =>
      `${prefix}_cache_${uuid.slice(0, 2)}_${id}`,
    openSourceDriver: (conn: SourceConnectionInfo) => {
      opened.push(conn);
      return driver;
    },
  } as unknown as SourceDbPort;
  const settings = {
    getBoolean: async () => opts.enabled ?? true,
    get: async (key: string) => (key === 'instance-uuid' ? 'ab12-cd' : '1'),
  };
  const db =
    opts.db === null
      ? null
      : ({
          id: 7,
          engine: 'postgres',
          host: 'h',
          port: 5432,
          dbName: 'd',
          username: 'u',
          passwordEncrypted: new SecretBox(config.secretsKey).encrypt('pw'),
          statementTimeoutMs: 1000,
          ...opts.db,
        } as SourceDatabaseEntity);
  const databases = {
    findById: async () => db,
    setPersistEnabled: jest.fn(async () => undefined),
    setPrivilegeReport: jest.fn(async () => undefined),
  };
  const persistedInfo = { markDeletable: jest.fn(async () => 0) };
  const rec = recordingNotifier();
  const check = new CanPersistCheck(config, sourceDb, settings as never, databases as never);
  const useCase = new DatabasePersistenceUseCase(
    check,
    fakeUnitOfWork(),
    settings as never,
    databases as never,
    persistedInfo as never,
    rec.notifier,
  );
  return { useCase, driver, opened, databases, persistedInfo, rec };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: DomainError) => e.code,
  );

describe('DatabasePersistenceUseCase', () => {
  it('refuses when globally disabled (400) or unknown (404), without touching the source', async () => {
    const off = setup({ enabled: false });
    expect(await codeOf(off.useCase.persist(7))).toBe(ErrorCode.PersistenceDisabled);
    expect(off.opened).toEqual([]);
    const missing = setup({ db: null });
    expect(await codeOf(missing.useCase.persist(7))).toBe(ErrorCode.NotFound);
    expect(await codeOf(missing.useCase.unpersist(7))).toBe(ErrorCode.NotFound);
  });

  it('runs the check with the decrypted password and the cache schema, then enables and announces', async () => {
    const s = setup({});
    await s.useCase.persist(7);
    expect(s.opened[0]).toMatchObject({ engine: 'postgres', password: 'pw', username: 'u' });
    expect(s.driver.checkCanPersist).toHaveBeenCalledWith({
      schemaName: 'mp_cache_ab_7',
      instanceUuid: 'ab12-cd',
      settingsVersion: '1',
    });
    expect(s.driver.close).toHaveBeenCalled();
    expect(s.databases.setPersistEnabled).toHaveBeenCalledWith(7, true);
    expect(s.rec.events()).toMatchObject([{ type: 'ConfigurationChanged', entity: 'database', entityId: 7 }]);
  });

  it('keeps and returns the privilege warning of a passed check (a warning, not a refusal)', async () => {
    const warning = { message: 'can write', count: 2, examples: [{ privilege: 'INSERT', on: 'public.t' }] };
    const s = setup({ check: { ok: true, privilegeWarning: warning } });
    await expect(s.useCase.persist(7)).resolves.toEqual({ privilegeWarning: warning });
    expect(s.databases.setPrivilegeReport).toHaveBeenCalledWith(7, warning, expect.any(Date));
    expect(s.databases.setPersistEnabled).toHaveBeenCalledWith(7, true);
    const clean = setup({});
    await expect(clean.useCase.persist(7)).resolves.toEqual({ privilegeWarning: null });
    expect(clean.databases.setPrivilegeReport).toHaveBeenCalledWith(7, null, expect.any(Date));
  });

  it('fails with 422 and the failing step message, leaving the flag off', async () => {
    const s = setup({
      check: { ok: false, step: 'create-table', message: 'Lack permission to create table' },
    });
    const error = await s.useCase.persist(7).catch((e: DomainError) => e);
    expect(error).toMatchObject({
      code: ErrorCode.CanPersistCheckFailed,
      message: 'Lack permission to create table',
      details: { step: 'create-table' },
    });
    expect(s.driver.close).toHaveBeenCalled();
    expect(s.databases.setPersistEnabled).not.toHaveBeenCalled();
    expect(s.databases.setPrivilegeReport).not.toHaveBeenCalled();
    expect(s.rec.sent).toEqual([]);
  });

  it('unpersist marks the rows deletable and clears the flag in one transaction', async () => {
    const s = setup({});
    await s.useCase.unpersist(7);
    expect(s.persistedInfo.markDeletable).toHaveBeenCalledWith(7, expect.anything());
    expect(s.databases.setPersistEnabled).toHaveBeenCalledWith(7, false, expect.anything());
  });
});
