import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { CronEditor } from '../cron-editor';
import { Confirm, ErrorBox, Notice, useLoad } from '../components';

const ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
})();

export function SettingsPage() {
  const settings = useLoad(() => api<Record<string, string>>('GET', '/api/settings'), []);
  const [confirm, setConfirm] = useState<'enable' | 'disable' | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cron, setCron] = useState('');
  const [cronOk, setCronOk] = useState(false);
  const [zone, setZone] = useState('');
  const [email, setEmail] = useState('');

  useEffect(() => {
    if (!settings.data) return;
    setCron(settings.data['persisted-model-refresh-cron-schedule'] ?? '');
    setZone(settings.data['persisted-model-schedule-timezone'] ?? 'UTC');
    setEmail(settings.data['admin-email'] ?? '');
  }, [settings.data]);

  const run = async (what: () => Promise<unknown>, done: string) => {
    setError(null);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      await settings.reload(true);
    } catch (e) {
      setError(e);
    }
  };

  if (settings.error && !settings.data)
    return <ErrorBox error={settings.error} title="Could not load the settings" />;
  if (!settings.data) return <p>Loading…</p>;
  const enabled = settings.data['persisted-models-enabled'] === 'true';
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <Notice text={notice} />
      <ErrorBox error={error} />

      <h2>Model persistence</h2>
      <p>
        Model persistence is <strong data-testid="persistence-status">{enabled ? 'on' : 'off'}</strong>.
      </p>
      <button
        type="button"
        class={enabled ? 'danger' : 'primary'}
        onClick={() => setConfirm(enabled ? 'disable' : 'enable')}
      >
        {enabled ? 'Turn persistence off…' : 'Turn persistence on…'}
      </button>
      {confirm === 'enable' && (
        <Confirm
          title="Turn model persistence on?"
          confirmLabel="Turn on"
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            setConfirm(null);
            void run(() => api('POST', '/api/model-persistence/enable'), 'Model persistence is on.');
          }}
        >
          <p>
            Databases can then be persisted (each after a check that the service may create tables there), and
            the models of persisted databases are rebuilt as cache tables on the schedule below.
          </p>
        </Confirm>
      )}
      {confirm === 'disable' && (
        <Confirm
          title="Turn model persistence off?"
          confirmLabel="Turn off and drop the caches"
          danger
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            setConfirm(null);
            void run(() => api('POST', '/api/model-persistence/disable'), 'Model persistence is off.');
          }}
        >
          <ul>
            <li>Every persisted database is turned off and every scheduled refresh stops.</li>
            <li>
              All cache tables are dropped from the source databases (after a short grace period); queries use
              the models' SQL again, which may be slower.
            </li>
            <li>Turning it back on later rebuilds each model from scratch.</li>
          </ul>
        </Confirm>
      )}

      <h2>Refresh schedule</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(
            () => api('POST', '/api/model-persistence/set-refresh-schedule', { cron: cron.trim() }),
            'The refresh schedule is saved.',
          );
        }}
      >
        <CronEditor
          id="global-cron"
          label="Global schedule (Quartz cron)"
          value={cron}
          onInput={setCron}
          onValid={setCronOk}
        />
        <button type="submit" class="primary" disabled={!cronOk}>
          Save schedule
        </button>
      </form>

      <h2>Time zone and alerts</h2>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void run(
            () => api('PUT', '/api/settings/persisted-model-schedule-timezone', { value: zone.trim() }),
            'The time zone is saved.',
          );
        }}
      >
        <label for="tz">Time zone of the schedule</label>
        <input
          id="tz"
          list="tz-list"
          value={zone}
          onInput={(e) => setZone((e.target as HTMLInputElement).value)}
        />
        <datalist id="tz-list">
          {ZONES.map((z) => (
            <option value={z} />
          ))}
        </datalist>
        <button type="submit">Save time zone</button>
      </form>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void run(
            () => api('PUT', '/api/settings/admin-email', { value: email.trim() }),
            email.trim() ? 'Failure alerts go to the admin email.' : 'The admin email is cleared.',
          );
        }}
      >
        <label for="admin-email">Admin email (receives failure and recovery alerts)</label>
        <input
          id="admin-email"
          type="email"
          autocomplete="email"
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Save admin email</button>
      </form>
      <p>
        Per-database persistence is on the <a href="#/databases">Databases</a> page.
      </p>
    </section>
  );
}
