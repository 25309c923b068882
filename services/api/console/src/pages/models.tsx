import { useState } from 'preact/hooks';
import { api, CronPreview, Database, LastBuild, Page, PersistedInfo, qs, STATES } from '../api';
import { ErrorBox, Notice, Pager, StaleMarker, StateBadge, useLoad, usePolling } from '../components';
import { age, count, dateTime, duration, staleReason, until } from '../format';

const PAGE_SIZE = 20;
type SortKey = 'id' | 'name' | 'database' | 'state' | 'last_success_at';

/** Period between two fires of each cron (for "behind schedule"), asked of the API once per expression. */
const periods = new Map<string, Promise<number | null>>();
function periodOf(cron: string): Promise<number | null> {
  let p = periods.get(cron);
  if (!p) {
    p = api<CronPreview>('GET', `/api/cron/next-fire-times${qs({ cron, count: 2 })}`).then(
      (r) => Date.parse(r.next_fire_times[1]) - Date.parse(r.next_fire_times[0]),
      () => null,
    );
    periods.set(cron, p);
  }
  return p;
}

/** Staleness against the schedule: a model is behind when it missed the last fire before the next one. */
export function scheduleStatus(m: PersistedInfo, periodMs: number | null, now = Date.now()): string {
  if (!m.next_fire_time) return m.state === 'off' || m.state === 'deletable' ? '' : 'not scheduled';
  if (!m.last_success_at) return 'never built';
  if (periodMs === null) return '';
  const previousFire = Date.parse(m.next_fire_time) - periodMs;
  // a minute of grace: the refresh of the previous fire may still be running
  return Date.parse(m.last_success_at) < previousFire - 60_000 && previousFire < now - 60_000
    ? 'behind schedule'
    : 'on schedule';
}

export function ModelsPage() {
  const [state, setState] = useState('');
  const [database, setDatabase] = useState('');
  const [search, setSearch] = useState('');
  const [staleOnly, setStaleOnly] = useState(false);
  const [sort, setSort] = useState<{ key: SortKey; dir: 'asc' | 'desc' }>({ key: 'name', dir: 'asc' });
  const [offset, setOffset] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState<number | null>(null);

  const dbs = useLoad(() => api<{ data: Database[] }>('GET', '/api/databases'), []);
  const settings = useLoad(() => api<Record<string, string>>('GET', '/api/settings'), []);
  const list = useLoad(async () => {
    const [page, builds] = await Promise.all([
      api<Page<PersistedInfo>>(
        'GET',
        `/api/model-persistence${qs({
          state,
          database_id: database,
          q: search.trim(),
          // beyond the model's max_staleness, else twice its schedule interval (the API's rule)
          stale: staleOnly ? 'true' : undefined,
          sort: sort.key,
          direction: sort.dir,
          limit: PAGE_SIZE,
          offset,
        })}`,
      ),
      api<{ data: LastBuild[] }>('GET', '/api/model-persistence-builds').catch(() => ({ data: [] })),
    ]);
    const globalCron = settings.data?.['persisted-model-refresh-cron-schedule'];
    const crons = new Set(page.data.map((m) => m.refresh_cron ?? globalCron).filter((c): c is string => !!c));
    const period = new Map<string, number | null>();
    await Promise.all([...crons].map(async (c) => period.set(c, await periodOf(c))));
    return {
      page,
      builds: new Map(builds.data.map((b) => [b.persisted_info_id, b])),
      period: (m: PersistedInfo) => period.get(m.refresh_cron ?? globalCron ?? '') ?? null,
    };
  }, [state, database, search, staleOnly, sort.key, sort.dir, offset, settings.data]);
  // the live view: states change as the refresher works, without reloading the page
  usePolling(() => void list.reload(true), 2000);

  const act = async (m: PersistedInfo, what: 'refresh' | 'persist' | 'unpersist') => {
    setBusy(m.id);
    setActionError(null);
    try {
      await api('POST', `/api/model-persistence/card/${m.card_id}/${what}`);
      const name = m.card_name ?? `model ${m.id}`;
      setNotice(
        what === 'refresh'
          ? `Refresh of “${name}” requested.`
          : what === 'persist'
            ? `“${name}” will be persisted.`
            : `“${name}” is no longer persisted.`,
      );
      await list.reload(true);
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(null);
    }
  };

  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th scope="col" aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
        <button
          type="button"
          class="sort"
          onClick={() => {
            setOffset(0);
            setSort({ key, dir: active && sort.dir === 'asc' ? 'desc' : 'asc' });
          }}
        >
          {label}
          <span aria-hidden="true">{active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
        </button>
      </th>
    );
  };

  const enabled = settings.data?.['persisted-models-enabled'] === 'true';
  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">Persisted models</h1>
      {settings.data && !enabled && (
        <div class="alert warn" role="status">
          Model persistence is turned off. Turn it on in <a href="#/settings">Settings</a>.
        </div>
      )}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search by name
          <input
            type="search"
            value={search}
            onInput={(e) => {
              setOffset(0);
              setSearch((e.target as HTMLInputElement).value);
            }}
          />
        </label>
        <label>
          State
          <select
            value={state}
            onChange={(e) => {
              setOffset(0);
              setState((e.target as HTMLSelectElement).value);
            }}
          >
            <option value="">All states</option>
            {STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Database
          <select
            value={database}
            onChange={(e) => {
              setOffset(0);
              setDatabase((e.target as HTMLSelectElement).value);
            }}
          >
            <option value="">All databases</option>
            {(dbs.data?.data ?? []).map((d) => (
              <option value={String(d.id)}>{d.name}</option>
            ))}
          </select>
        </label>
        <label class="check-label">
          <input
            type="checkbox"
            checked={staleOnly}
            onChange={(e) => {
              setOffset(0);
              setStaleOnly((e.target as HTMLInputElement).checked);
            }}
          />
          Stale only
        </label>
      </form>
      <Notice text={notice} />
      <ErrorBox error={actionError} title="The action failed" />
      <ErrorBox error={list.error} title="Could not load the models" />
      {list.loading && !list.data && <p>Loading…</p>}
      {list.data && (
        <>
          <div class="table-wrap">
            <table class="models">
              <caption class="visually-hidden">Persisted models, {list.data.page.total} in all</caption>
              {/* on phones the header row is hidden but its sort buttons stay, as a "Sort by" bar (styles.css) */}
              <thead class="sortable">
                <tr>
                  {header('name', 'Model')}
                  {header('database', 'Database')}
                  {header('state', 'State')}
                  {header('last_success_at', 'Last success')}
                  <th scope="col">Schedule</th>
                  <th scope="col">Last build</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data.page.data.length === 0 && (
                  <tr>
                    <td colSpan={8}>
                      {staleOnly
                        ? 'No stale model matches: every model is within its freshness limit.'
                        : 'No persisted models match. Add a model on the Databases page.'}
                    </td>
                  </tr>
                )}
                {list.data.page.data.map((m) => {
                  const b = list.data!.builds.get(m.id);
                  const status = scheduleStatus(m, list.data!.period(m));
                  const name = m.card_name ?? `(deleted card) ${m.table_name}`;
                  const stale = staleReason(m);
                  return (
                    <tr data-model={name} key={m.id}>
                      <th scope="row" data-label="Model">
                        <a href={`#/models/${m.id}`}>{name}</a>
                      </th>
                      <td data-label="Database">{m.database_name}</td>
                      <td data-label="State">
                        <StateBadge state={m.state} />
                        {stale && <StaleMarker reason={stale} />}
                      </td>
                      <td data-label="Last success">
                        {dateTime(m.last_success_at)}
                        {m.last_success_at && <div class="muted">{age(m.staleness_seconds)} ago</div>}
                      </td>
                      <td data-label="Schedule">
                        <div>Next: {until(m.next_fire_time)}</div>
                        {status && (
                          <div class={status === 'behind schedule' ? 'warn-text' : 'muted'}>{status}</div>
                        )}
                      </td>
                      <td data-label="Last build">
                        {b ? (
                          <>
                            {b.outcome === 'error' ? 'failed' : `${count(b.rows)} rows`}
                            <div class="muted">{duration(b.duration_ms)}</div>
                          </>
                        ) : (
                          '—'
                        )}
                      </td>
                      <td data-label="Last error" class="error-cell">
                        {m.error ? <span title={m.error}>{m.error}</span> : '—'}
                      </td>
                      <td data-label="Actions" class="actions-cell">
                        {m.card_id !== null && m.state !== 'off' && m.state !== 'deletable' && (
                          <button
                            type="button"
                            class="small"
                            disabled={busy === m.id}
                            aria-label={`Refresh now: ${name}`}
                            onClick={() => void act(m, 'refresh')}
                          >
                            Refresh now
                          </button>
                        )}
                        {m.card_id !== null &&
                          (m.state === 'off' || m.state === 'deletable' ? (
                            <button
                              type="button"
                              class="small"
                              disabled={busy === m.id}
                              aria-label={`Persist: ${name}`}
                              onClick={() => void act(m, 'persist')}
                            >
                              Persist
                            </button>
                          ) : (
                            <button
                              type="button"
                              class="small secondary"
                              disabled={busy === m.id}
                              aria-label={`Unpersist: ${name}`}
                              onClick={() => void act(m, 'unpersist')}
                            >
                              Unpersist
                            </button>
                          ))}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pager
            total={list.data.page.total}
            limit={PAGE_SIZE}
            offset={offset}
            onOffset={(o) => setOffset(o)}
          />
        </>
      )}
    </section>
  );
}
