import { ErrorCode } from '@model-persistence/errors';
import { recordingNotifier } from '../../test/fakes';
import { AdminSettingsUseCase } from './admin-settings.use-case';

function setup(existingEmail?: string) {
  const settings = {
    set: jest.fn(async () => undefined),
    getAll: async () => ({
      'persisted-models-enabled': 'true',
      'persisted-model-refresh-cron-schedule': '0 0 0/6 * * ? *',
      'persisted-model-schedule-timezone': 'UTC',
      'admin-email': 'a@b.c',
      'settings-version': '1',
      'instance-uuid': 'secret-ish',
    }),
  };
  const admins = {
    findByEmail: async (e: string) => (existingEmail && e.toLowerCase() === existingEmail ? { id: 1 } : null),
    create: jest.fn(async (v: object) => ({ id: 2, ...v })),
    delete: jest.fn(async (id: number) => id === 2),
  };
  const rec = recordingNotifier();
  return {
    useCase: new AdminSettingsUseCase(settings as never, admins as never, rec.notifier),
    settings,
    admins,
    rec,
  };
}

describe('AdminSettingsUseCase', () => {
  it('shows the operator settings only', async () => {
    const shown = await setup().useCase.getSettings();
    expect(Object.keys(shown).sort()).toEqual([
      'admin-email',
      'persisted-model-refresh-cron-schedule',
      'persisted-model-schedule-timezone',
      'persisted-models-enabled',
    ]);
  });

  it('validates the time zone and reschedules on change; admin-email needs no reschedule', async () => {
    const s = setup();
    await expect(
      s.useCase.setSetting('persisted-model-schedule-timezone', 'Nowhere/Land'),
    ).rejects.toMatchObject({
      code: ErrorCode.ValidationFailed,
    });
    expect(s.settings.set).not.toHaveBeenCalled();
    await s.useCase.setSetting('persisted-model-schedule-timezone', 'Asia/Tokyo');
    await s.useCase.setSetting('admin-email', 'ops@example.com');
    expect(s.settings.set).toHaveBeenCalledTimes(2);
    expect(s.rec.events()).toMatchObject([
      { entity: 'setting', entityId: 'persisted-model-schedule-timezone' },
    ]);
  });

  it('adds admins once per address (case-insensitive) and removes them', async () => {
    const s = setup('ops@example.com');
    await expect(s.useCase.addAdmin({ email: 'OPS@example.com' })).rejects.toMatchObject({
      code: ErrorCode.Conflict,
    });
    await expect(s.useCase.addAdmin({ email: 'new@example.com' })).resolves.toMatchObject({
      active: true,
      name: null,
    });
    await s.useCase.removeAdmin(2);
    await expect(s.useCase.removeAdmin(3)).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });
});
