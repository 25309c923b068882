import { useEffect, useRef, useState } from 'preact/hooks';
import { api, Card, LastBuild, Page, PersistedInfo, qs, Task } from '../api';
import { CronEditor } from '../cron-editor';
import { ErrorBox, errorText, Notice, StaleMarker, StateBadge, useLoad, usePolling } from '../components';
import {
  age,
  count,
  dateTime,
  detailText,
  duration,
  limitText,
  runOutcome,
  span,
  staleReason,
  until,
} from '../format';

interface ErrorDetail {
  'card-id': number;
  error: string;
}

/** Task runs that concern one model: its own refreshes and the runs of its whole database. */
function concerns(t: Task, cardId: number): boolean {
  const d = t.task_details ?? {};
  return d['card-id'] === undefined || d['card-id'] === cardId;
}

/** Focus to `field` when `open` turns true, back to `opener` when it turns false (not on the first render). */
function useFocusSwap(
  open: boolean,
  field: { current: HTMLElement | null },
  opener: { current: HTMLElement | null },
) {
  const was = useRef(open);
  useEffect(() => {
    if (open && !was.current) field.current?.focus();
    if (!open && was.current) opener.current?.focus();
    was.current = open;
  }, [open]);
}

export function ModelDetailPage({ id }: { id: number }) {
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [cronOk, setCronOk] = useState(false);
  const [sqlDraft, setSqlDraft] = useState<string | null>(null);
  // freshness target and refresh key: a draft while editing, and the API's refusal shown at the field
  const [targetDraft, setTargetDraft] = useState<string | null>(null);
  const [targetError, setTargetError] = useState<string | null>(null);
  const [keyDraft, setKeyDraft] = useState<string | null>(null);
  const [keyError, setKeyError] = useState<string | null>(null);
  const targetInput = useRef<HTMLInputElement>(null);
  const keyInput = useRef<HTMLTextAreaElement>(null);
  const targetOpener = useRef<HTMLButtonElement>(null);
  const keyOpener = useRef<HTMLButtonElement>(null);
  // the button that opens a form is replaced by it: focus goes to the field, and back to the button on close
  useFocusSwap(targetDraft !== null, targetInput, targetOpener);
  useFocusSwap(keyDraft !== null, keyInput, keyOpener);

  const detail = useLoad(async () => {
    const m = await api<PersistedInfo>('GET', `/api/model-persistence/${id}`);
    const [card, settings, tasks, builds] = await Promise.all([
      m.card_id === null ? Promise.resolve(null) : api<Card>('GET', `/api/cards/${m.card_id}`),
      api<Record<string, string>>('GET', '/api/settings'),
      api<Page<Task>>(
        'GET',
        `/api/task-history${qs({ task: 'persist-refresh', db_id: m.database_id, limit: 100 })}`,
      ),
      api<{ data: LastBuild[] }>('GET', '/api/model-persistence-builds').catch(() => ({ data: [] })),
    ]);
    return {
      m,
      card,
      settings,
      tasks: tasks.data,
      build: builds.data.find((b) => b.persisted_info_id === m.id),
    };
  }, [id]);
  usePolling(() => void detail.reload(true), 3000);

  if (detail.error && !detail.data) return <ErrorBox error={detail.error} title="Could not load the model" />;
  if (!detail.data) return <p>Loading…</p>;
  const { m, card, settings, tasks, build } = detail.data;
  const globalCron = settings['persisted-model-refresh-cron-schedule'];
  const limit = limitText(m);
  const runs = m.card_id === null ? [] : tasks.filter((t) => concerns(t, m.card_id!)).slice(0, 20);
  const failures =
    m.card_id === null
      ? []
      : tasks
          .flatMap((t) =>
            ((t.task_details?.['error-details'] as ErrorDetail[] | undefined) ?? [])
              .filter((d) => d['card-id'] === m.card_id)
              .map((d) => ({ at: t.ended_at ?? t.started_at, error: d.error })),
          )
          .slice(0, 5);

  const saveSchedule = async (cron: string | null) => {
    setActionError(null);
    try {
      await api('PATCH', `/api/cards/${m.card_id}`, { refresh_cron: cron });
      setEditing(null);
      setNotice(
        cron ? 'The model now has its own schedule.' : 'The model follows the global schedule again.',
      );
      await detail.reload(true);
    } catch (e) {
      setActionError(e);
    }
  };
  const saveSql = async (sql: string) => {
    setActionError(null);
    try {
      await api('PATCH', `/api/cards/${m.card_id}`, { sql });
      setSqlDraft(null);
      setNotice('The SQL is saved; the model is being rebuilt.');
      await detail.reload(true);
    } catch (e) {
      setActionError(e);
    }
  };
  /** PATCHes one card field; a refusal is shown next to the field (and focus goes back to it), not lost. */
  const saveField = async (
    body: { max_staleness: string | null } | { refresh_key: string | null },
    done: string,
    fieldError: (e: string | null) => void,
    field: { current: HTMLElement | null } | null,
    close: () => void,
  ) => {
    setActionError(null);
    fieldError(null);
    try {
      await api('PATCH', `/api/cards/${m.card_id}`, body);
      // the page shows the saved value before the form closes and the change is announced, so focus returns to
      // a button already labelled for it ("Change …", not "Set …")
      await detail.reload(true);
      close();
      setNotice(done);
    } catch (e) {
      if (field?.current) {
        fieldError(errorText(e));
        field.current.focus();
      } else setActionError(e);
    }
  };
  const saveTarget = (value: string | null, field: typeof targetInput | null) =>
    saveField(
      { max_staleness: value },
      value ? `The freshness target is now ${value.toUpperCase()}.` : 'The freshness target is removed.',
      setTargetError,
      field,
      () => setTargetDraft(null),
    );
  const saveKey = (value: string | null, field: typeof keyInput | null) =>
    saveField(
      { refresh_key: value },
      value
        ? 'The refresh key is saved: scheduled refreshes rebuild the model only when its result changes.'
        : 'The refresh key is removed: the refresher reads table statistics itself.',
      setKeyError,
      field,
      () => setKeyDraft(null),
    );
  const refresh = async () => {
    setActionError(null);
    try {
      await api('POST', `/api/model-persistence/card/${m.card_id}/refresh`);
      setNotice('Refresh requested.');
      await detail.reload(true);
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section aria-labelledby="detail-title">
      <p>
        <a href="#/models">← All models</a>
      </p>
      <h1 id="detail-title">{m.card_name ?? m.table_name}</h1>
      <Notice text={notice} />
      <ErrorBox error={actionError} title="The action failed" />
      <ErrorBox error={detail.error} title="Could not reload" />
      <dl class="facts">
        <dt>State</dt>
        <dd>
          <StateBadge state={m.state} />
        </dd>
        <dt>Database</dt>
        <dd>{m.database_name}</dd>
        <dt>Cache table</dt>
        <dd class="mono">
          {m.schema_name}.{m.table_name}
        </dd>
        <dt>Freshness</dt>
        <dd data-testid="freshness">
          {m.stale ? (
            <StaleMarker reason={staleReason(m)!} />
          ) : limit ? (
            `Within ${limit}`
          ) : (
            'No limit: no freshness target and no schedule'
          )}
        </dd>
        <dt>Data last verified</dt>
        <dd data-testid="since-verified">
          {m.last_success_at ? `${age(m.staleness_seconds)} ago (${dateTime(m.last_success_at)})` : 'never'}
          <div class="muted">
            Its last build, or the last check that found its data unchanged (change detection).
          </div>
        </dd>
        <dt>Since last build</dt>
        <dd data-testid="since-build">
          {m.last_built_at
            ? `${age(m.since_last_build_seconds)} (${dateTime(m.last_built_at)})`
            : 'never built'}
          {m.last_built_at && <div class="muted">The cached data has not changed since it was built.</div>}
        </dd>
        <dt>Next refresh</dt>
        <dd>
          {dateTime(m.next_fire_time)} ({until(m.next_fire_time)})
        </dd>
        <dt>Last build result</dt>
        <dd>
          {build
            ? build.outcome === 'error'
              ? `failed after ${duration(build.duration_ms)}`
              : `${count(build.rows)} rows in ${duration(build.duration_ms)}`
            : '—'}
        </dd>
      </dl>
      {m.card_id !== null && m.state !== 'off' && m.state !== 'deletable' && (
        <button type="button" onClick={() => void refresh()}>
          Refresh now
        </button>
      )}
      {m.error && (
        <div class="alert error" role="alert">
          <strong>Last error:</strong> <span class="mono pre">{m.error}</span>
        </div>
      )}

      <h2>Schedule</h2>
      {card?.refresh_cron ? (
        <p>
          Own schedule: <code>{card.refresh_cron}</code>
        </p>
      ) : (
        <p>
          Inherited from the global schedule: <code>{globalCron}</code>
        </p>
      )}
      {card && editing === null && (
        <div class="row">
          <button type="button" onClick={() => setEditing(card.refresh_cron ?? globalCron)}>
            Set an own schedule
          </button>
          {card.refresh_cron && (
            <button type="button" class="secondary" onClick={() => void saveSchedule(null)}>
              Use the global schedule
            </button>
          )}
        </div>
      )}
      {card && editing !== null && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void saveSchedule(editing.trim());
          }}
        >
          <CronEditor
            id="model-cron"
            label="Schedule of this model"
            value={editing}
            onInput={setEditing}
            onValid={setCronOk}
          />
          <div class="row">
            <button type="submit" class="primary" disabled={!cronOk}>
              Save schedule
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      <h2>Freshness target</h2>
      {targetDraft === null ? (
        <>
          <p data-testid="max-staleness">
            {m.max_staleness ? (
              <>
                At most <code>{m.max_staleness}</code> ({span(m.max_staleness_seconds ?? 0)}) old: refreshes
                are requested in time to stay within it.
              </>
            ) : (
              <>No target: the model is stale after twice its schedule interval.</>
            )}
          </p>
          {card && (
            <div class="row">
              <button
                type="button"
                id="max-staleness-edit"
                ref={targetOpener}
                onClick={() => (setTargetError(null), setTargetDraft(card.max_staleness ?? ''))}
              >
                {card.max_staleness ? 'Change freshness target' : 'Set a freshness target'}
              </button>
              {card.max_staleness && (
                <button type="button" class="secondary" onClick={() => void saveTarget(null, null)}>
                  Remove freshness target
                </button>
              )}
            </div>
          )}
        </>
      ) : (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            const v = targetDraft.trim();
            void saveTarget(v === '' ? null : v, targetInput);
          }}
        >
          <label for="model-max-staleness">Freshness target (ISO-8601 duration)</label>
          <input
            id="model-max-staleness"
            ref={targetInput}
            class="mono"
            value={targetDraft}
            spellcheck={false}
            autocomplete="off"
            aria-describedby={`model-max-staleness-help${targetError ? ' model-max-staleness-error' : ''}`}
            aria-invalid={targetError ? 'true' : 'false'}
            onInput={(e) => setTargetDraft((e.target as HTMLInputElement).value)}
          />
          <p id="model-max-staleness-help" class="muted">
            How old the cache may get, from PT1M to P365D: PT30M, PT2H, P1D, P1DT12H. Empty removes the
            target.
          </p>
          {targetError && (
            <p id="model-max-staleness-error" class="field-error" role="alert">
              {targetError}
            </p>
          )}
          <div class="row">
            <button type="submit" class="primary">
              Save freshness target
            </button>
            <button type="button" class="secondary" onClick={() => setTargetDraft(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      <h2>Change detection</h2>
      {keyDraft === null ? (
        <>
          {card?.refresh_key ? (
            <>
              <p>
                Refresh key: scheduled refreshes rebuild the model only when this query&rsquo;s result
                changes.
              </p>
              <pre class="sql" data-testid="refresh-key">
                {card.refresh_key}
              </pre>
            </>
          ) : (
            <p data-testid="refresh-key">
              No refresh key: the refresher reads the statistics of the tables the model reads to tell whether
              they changed.
            </p>
          )}
          {card && (
            <div class="row">
              <button
                type="button"
                class="secondary"
                id="refresh-key-edit"
                ref={keyOpener}
                onClick={() => (setKeyError(null), setKeyDraft(card.refresh_key ?? ''))}
              >
                {card.refresh_key ? 'Edit refresh key' : 'Set a refresh key'}
              </button>
              {card.refresh_key && (
                <button type="button" class="secondary" onClick={() => void saveKey(null, null)}>
                  Remove refresh key
                </button>
              )}
            </div>
          )}
        </>
      ) : (
        <form
          class="stack wide-stack"
          onSubmit={(e) => {
            e.preventDefault();
            const v = keyDraft.trim();
            void saveKey(v === '' ? null : v, keyInput);
          }}
        >
          <label for="model-refresh-key">Refresh key (SQL)</label>
          <textarea
            id="model-refresh-key"
            ref={keyInput}
            class="mono"
            rows={3}
            value={keyDraft}
            spellcheck={false}
            aria-describedby={`model-refresh-key-help${keyError ? ' model-refresh-key-error' : ''}`}
            aria-invalid={keyError ? 'true' : 'false'}
            onInput={(e) => setKeyDraft((e.target as HTMLTextAreaElement).value)}
          />
          <p id="model-refresh-key-help" class="muted">
            A cheap read query whose result changes when the model&rsquo;s data does, e.g.{' '}
            <code>select max(updated_at) from orders</code>. Checked like model SQL. Empty removes it.
          </p>
          {keyError && (
            <p id="model-refresh-key-error" class="field-error" role="alert">
              {keyError}
            </p>
          )}
          <div class="row">
            <button type="submit" class="primary">
              Save refresh key
            </button>
            <button type="button" class="secondary" onClick={() => setKeyDraft(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      <h2>SQL</h2>
      {sqlDraft === null ? (
        <>
          <pre class="sql">{card?.sql ?? '(the card was deleted)'}</pre>
          {card && (
            <button type="button" class="secondary" onClick={() => setSqlDraft(card.sql)}>
              Edit SQL
            </button>
          )}
        </>
      ) : (
        <form
          class="stack wide-stack"
          onSubmit={(e) => {
            e.preventDefault();
            void saveSql(sqlDraft);
          }}
        >
          <label for="model-sql">SQL of this model (one SELECT)</label>
          <textarea
            id="model-sql"
            class="mono"
            rows={6}
            value={sqlDraft}
            onInput={(e) => setSqlDraft((e.target as HTMLTextAreaElement).value)}
          />
          <div class="row">
            <button type="submit" class="primary">
              Save SQL
            </button>
            <button type="button" class="secondary" onClick={() => setSqlDraft(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      <h2>Last failures</h2>
      {failures.length === 0 ? (
        <p>No failed refresh in the recent task history.</p>
      ) : (
        <ul class="failures">
          {failures.map((f) => (
            <li>
              <time>{dateTime(f.at)}</time>: <span class="mono pre">{f.error}</span>
            </li>
          ))}
        </ul>
      )}

      <h2>Task history of this model</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Status</th>
              <th scope="col">Duration</th>
              <th scope="col">Trigger</th>
              <th scope="col">This model</th>
              <th scope="col">Models (ok / error / skipped)</th>
            </tr>
          </thead>
          <tbody>
            {runs.length === 0 && (
              <tr>
                <td colSpan={6}>No refresh runs yet.</td>
              </tr>
            )}
            {runs.map((t) => {
              const d = t.task_details ?? {};
              const o = runOutcome(t, m.card_id!);
              return (
                <tr>
                  <td data-label="Started">{dateTime(t.started_at)}</td>
                  <td data-label="Status">
                    <span class={`status status-${t.status}`}>{t.status}</span>
                  </td>
                  <td data-label="Duration">{duration(t.duration)}</td>
                  <td data-label="Trigger">{detailText(d.trigger)}</td>
                  <td data-label="This model">
                    <span class={`outcome outcome-${o.outcome}`} data-outcome={o.outcome}>
                      {o.text}
                    </span>
                  </td>
                  <td data-label="Models">
                    {detailText(d.success, '0')} / {detailText(d.error, '0')} / {detailText(d.skipped, '0')}
                    {typeof d.unchanged === 'number' && d.unchanged > 0 && (
                      <div class="muted">{d.unchanged} of the ok unchanged</div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
