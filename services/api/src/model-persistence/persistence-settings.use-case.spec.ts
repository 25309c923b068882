import { DomainError, ErrorCode } from '@model-persistence/errors';
import { QUARTZ_FORMAT_MESSAGE } from '@model-persistence/cron';
import { fakeUnitOfWork, recordingNotifier, TX } from '../../test/fakes';
import { PersistenceSettingsUseCase } from './persistence-settings.use-case';

function setup(opts: { failSetting?: boolean } = {}) {
  const calls: string[] = [];
  const settings = {
    set: jest.fn(async (key: string, value: string, m?: unknown) => {
      if (opts.failSetting) throw new Error('db down');
      calls.push(`set ${key}=${value}${m === TX ? ' (tx)' : ''}`);
    }),
  };
  const persistedInfo = {
    markDeletable: jest.fn(async (id: unknown, m?: unknown) => {
      calls.push(`markDeletable ${String(id)}${m === TX ? ' (tx)' : ''}`);
      return 3;
    }),
  };
  const databases = {
    setPersistEnabled: jest.fn(async (id: unknown, on: boolean, m?: unknown) => {
      calls.push(`setPersistEnabled ${String(id)}=${on}${m === TX ? ' (tx)' : ''}`);
    }),
  };
  const rec = recordingNotifier();
  const useCase = new PersistenceSettingsUseCase(
    fakeUnitOfWork(),
    settings as never,
    persistedInfo as never,
    databases as never,
    rec.notifier,
  );
  return { useCase, calls, rec, settings };
}

describe('PersistenceSettingsUseCase', () => {
  it('enable sets the setting and announces it', async () => {
    const { useCase, calls, rec } = setup();
    await useCase.enable();
    expect(calls).toEqual(['set persisted-models-enabled=true']);
    expect(rec.events()).toMatchObject([
      {
        type: 'ConfigurationChanged',
        entity: 'setting',
        entityId: 'persisted-models-enabled',
        change: 'updated',
      },
    ]);
  });

  it('disable does every step in one transaction, then announces and requests a prune', async () => {
    const { useCase, calls, rec } = setup();
    await useCase.disable({ name: 'ops' });
    expect(calls).toEqual([
      'markDeletable all (tx)',
      'setPersistEnabled all=false (tx)',
      'set persisted-models-enabled=false (tx)',
    ]);
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0].map((o) => [o.topic, o.key])).toEqual([
      ['config.changed', 'setting'],
      ['prune.requested', 'prune'],
    ]);
    expect(rec.events()[1]).toMatchObject({ type: 'PruneRequested', trigger: 'disable', requestedBy: 'ops' });
  });

  it('publishes nothing when the transaction fails', async () => {
    const { useCase, rec } = setup({ failSetting: true });
    await expect(useCase.disable({ name: 'ops' })).rejects.toThrow('db down');
    expect(rec.sent).toEqual([]);
  });

  it('rejects an invalid cron before writing anything', async () => {
    const { useCase, settings, rec } = setup();
    const error = await useCase.setRefreshSchedule('0 0 * * *').catch((e: unknown) => e);
    expect(DomainError.is(error, ErrorCode.InvalidCron)).toBe(true);
    expect((error as Error).message).toBe(QUARTZ_FORMAT_MESSAGE);
    expect(settings.set).not.toHaveBeenCalled();
    expect(rec.sent).toEqual([]);
    await useCase.setRefreshSchedule('  0 0 0/2 * * ? *  ');
    expect(settings.set).toHaveBeenCalledWith('persisted-model-refresh-cron-schedule', '0 0 0/2 * * ? *');
  });
});
