import { useState } from 'preact/hooks';
import { api, CanPersistReport, Card, Database } from '../api';
import { ErrorBox, Notice, useLoad } from '../components';

function CheckResult({ report }: { report: CanPersistReport }) {
  return (
    <div class={`check ${report.ok ? 'ok' : 'failed'}`} role="status">
      <p>
        <strong>{report.ok ? 'The can-persist check passed.' : 'The can-persist check failed.'}</strong> Cache
        schema <code>{report.schema_name}</code>:
      </p>
      <ol>
        {report.steps.map((s) => (
          <li class={`step-${s.status}`}>
            <span class="step-status">
              {s.status === 'passed' ? '✓ passed' : s.status === 'failed' ? '✗ failed' : '– not run'}
            </span>{' '}
            {s.label}
            {s.message && <div class="mono pre">{s.message}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function DatabaseForm({ onDone }: { onDone: (msg: string) => void }) {
  const [f, setF] = useState({
    name: '',
    engine: 'postgres',
    host: '127.0.0.1',
    port: '5432',
    db_name: '',
    user: '',
    password: '',
  });
  const [error, setError] = useState<unknown>(null);
  const field = (k: keyof typeof f, label: string, type: 'text' | 'number' | 'password' = 'text') => {
    const common = {
      name: k,
      value: f[k],
      required: k !== 'password',
      autocomplete: k === 'password' ? 'new-password' : 'off',
      onInput: (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value }),
    };
    return (
      <label>
        {label}
        {type === 'password' ? (
          <input type="password" {...common} />
        ) : type === 'number' ? (
          <input type="number" {...common} />
        ) : (
          <input type="text" {...common} />
        )}
      </label>
    );
  };
  return (
    <form
      class="grid-form"
      aria-labelledby="add-db-title"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        api<Database>('POST', '/api/databases', {
          name: f.name,
          engine: f.engine,
          host: f.host,
          port: Number(f.port),
          db_name: f.db_name,
          user: f.user,
          ...(f.password ? { password: f.password } : {}),
        }).then((d) => {
          setF({ ...f, name: '', db_name: '', password: '' });
          onDone(`Database “${d.name}” registered.`);
        }, setError);
      }}
    >
      <h2 id="add-db-title">Register a source database</h2>
      {field('name', 'Name')}
      <label>
        Engine
        <select
          name="engine"
          value={f.engine}
          onChange={(e) => {
            const engine = (e.target as HTMLSelectElement).value;
            setF({ ...f, engine, port: engine === 'mysql' ? '3306' : '5432' });
          }}
        >
          <option value="postgres">PostgreSQL</option>
          <option value="mysql">MySQL / MariaDB</option>
        </select>
      </label>
      {field('host', 'Host')}
      {field('port', 'Port', 'number')}
      {field('db_name', 'Database name')}
      {field('user', 'User')}
      {field('password', 'Password (optional)', 'password')}
      <ErrorBox error={error} title="Could not register the database" />
      <button type="submit" class="primary">
        Register database
      </button>
    </form>
  );
}

function ModelForm({ databases, onDone }: { databases: Database[]; onDone: (msg: string) => void }) {
  const [name, setName] = useState('');
  const [db, setDb] = useState('');
  const [sql, setSql] = useState('');
  const [persist, setPersist] = useState(true);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      class="grid-form"
      aria-labelledby="add-model-title"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        (async () => {
          const card = await api<Card>('POST', '/api/cards', {
            name,
            database_id: Number(db || databases[0]?.id),
            sql,
            type: 'model',
          });
          if (persist) await api('POST', `/api/model-persistence/card/${card.id}/persist`);
          setName('');
          setSql('');
          onDone(`Model “${card.name}” added${persist ? ' and persisted' : ''}.`);
        })().catch(setError);
      }}
    >
      <h2 id="add-model-title">Add a model</h2>
      <label>
        Name
        <input
          name="model-name"
          required
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Database
        <select
          name="model-database"
          value={db || String(databases[0]?.id ?? '')}
          onChange={(e) => setDb((e.target as HTMLSelectElement).value)}
        >
          {databases.map((d) => (
            <option value={String(d.id)}>{d.name}</option>
          ))}
        </select>
      </label>
      <label class="wide">
        SQL (one SELECT)
        <textarea
          name="model-sql"
          class="mono"
          rows={4}
          required
          value={sql}
          onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <label class="check-label">
        <input
          type="checkbox"
          checked={persist}
          onChange={(e) => setPersist((e.target as HTMLInputElement).checked)}
        />
        Persist it now
      </label>
      <ErrorBox error={error} title="Could not add the model" />
      <button type="submit" class="primary" disabled={databases.length === 0}>
        Add model
      </button>
    </form>
  );
}

export function DatabasesPage() {
  const dbs = useLoad(() => api<{ data: Database[] }>('GET', '/api/databases'), []);
  const [reports, setReports] = useState<Record<number, CanPersistReport>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<number | null>(null);

  const check = async (d: Database) => {
    const report = await api<CanPersistReport>('POST', `/api/databases/${d.id}/can-persist-check`);
    setReports((r) => ({ ...r, [d.id]: report }));
    return report;
  };
  const act = async (d: Database, what: 'check' | 'persist' | 'unpersist') => {
    setBusy(d.id);
    setError(null);
    setNotice(null);
    try {
      if (what === 'check') {
        const r = await check(d);
        setNotice(r.ok ? `“${d.name}” can be persisted.` : `“${d.name}” cannot be persisted yet.`);
      } else if (what === 'persist') {
        // the step-by-step result first; persist runs the same check again server-side and refuses on failure
        const r = await check(d);
        if (r.ok) {
          await api('POST', `/api/model-persistence/database/${d.id}/persist`);
          setNotice(`“${d.name}” is persisted: its models are built on the schedule.`);
        }
      } else {
        await api('POST', `/api/model-persistence/database/${d.id}/unpersist`);
        setNotice(`“${d.name}” is no longer persisted; its cache tables are dropped.`);
      }
      await dbs.reload(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const done = (msg: string) => {
    setNotice(msg);
    void dbs.reload(true);
  };

  const list = dbs.data?.data ?? [];
  return (
    <section aria-labelledby="db-title">
      <h1 id="db-title">Databases</h1>
      <Notice text={notice} />
      <ErrorBox error={error} title="The action failed" />
      <ErrorBox error={dbs.error} title="Could not load the databases" />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Engine</th>
              <th scope="col">Where</th>
              <th scope="col">Persisted</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.length === 0 && (
              <tr>
                <td colSpan={5}>No source database yet: register one below.</td>
              </tr>
            )}
            {list.map((d) => (
              <>
                <tr data-database={d.name}>
                  <th scope="row" data-label="Name">
                    {d.name}
                  </th>
                  <td data-label="Engine">{d.engine === 'postgres' ? 'PostgreSQL' : 'MySQL / MariaDB'}</td>
                  <td data-label="Where" class="mono">
                    {d.user}@{d.host}:{d.port}/{d.db_name}
                  </td>
                  <td data-label="Persisted">{d.persist_models_enabled ? 'Yes' : 'No'}</td>
                  <td data-label="Actions" class="actions-cell">
                    <button
                      type="button"
                      class="small secondary"
                      disabled={busy === d.id}
                      onClick={() => void act(d, 'check')}
                      aria-label={`Check: ${d.name}`}
                    >
                      Check
                    </button>
                    {d.persist_models_enabled ? (
                      <button
                        type="button"
                        class="small secondary"
                        disabled={busy === d.id}
                        onClick={() => void act(d, 'unpersist')}
                        aria-label={`Unpersist: ${d.name}`}
                      >
                        Unpersist
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="small"
                        disabled={busy === d.id}
                        onClick={() => void act(d, 'persist')}
                        aria-label={`Persist: ${d.name}`}
                      >
                        Persist
                      </button>
                    )}
                  </td>
                </tr>
                {reports[d.id] && (
                  <tr class="report-row">
                    <td colSpan={5}>
                      <CheckResult report={reports[d.id]} />
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      </div>
      <div class="forms">
        <DatabaseForm onDone={done} />
        <ModelForm databases={list} onDone={done} />
      </div>
    </section>
  );
}
