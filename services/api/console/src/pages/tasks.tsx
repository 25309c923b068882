import { useState } from 'preact/hooks';
import { api, Page, qs, Task } from '../api';
import { ErrorBox, Pager, useLoad, usePolling } from '../components';
import { dateTime, detailText, duration } from '../format';

const PAGE_SIZE = 25;

export function TasksPage() {
  const [status, setStatus] = useState('');
  const [task, setTask] = useState('');
  const [offset, setOffset] = useState(0);
  const page = useLoad(
    () => api<Page<Task>>('GET', `/api/task-history${qs({ status, task, limit: PAGE_SIZE, offset })}`),
    [status, task, offset],
  );
  usePolling(() => void page.reload(true), 5000);
  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Task history</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Task
          <select
            value={task}
            onChange={(e) => (setOffset(0), setTask((e.target as HTMLSelectElement).value))}
          >
            <option value="">All tasks</option>
            <option value="persist-refresh">Refresh (persist-refresh)</option>
            <option value="unpersist-tables">Prune (unpersist-tables)</option>
          </select>
        </label>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => (setOffset(0), setStatus((e.target as HTMLSelectElement).value))}
          >
            <option value="">All</option>
            <option value="started">started</option>
            <option value="success">success</option>
            <option value="failed">failed</option>
            <option value="unknown">unknown</option>
          </select>
        </label>
      </form>
      <ErrorBox error={page.error} title="Could not load the task history" />
      {page.data && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Database</th>
                  <th scope="col">Started</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Status</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.length === 0 && (
                  <tr>
                    <td colSpan={6}>No task has run yet.</td>
                  </tr>
                )}
                {page.data.data.map((t) => {
                  const d = t.task_details ?? {};
                  const errors = (d['error-details'] as { error: string }[] | undefined) ?? [];
                  return (
                    <tr>
                      <td data-label="Task">{t.task}</td>
                      <td data-label="Database">{t.db_id ?? '—'}</td>
                      <td data-label="Started">{dateTime(t.started_at)}</td>
                      <td data-label="Duration">{duration(t.duration)}</td>
                      <td data-label="Status">
                        <span class={`status status-${t.status}`}>{t.status}</span>
                      </td>
                      <td data-label="Details">
                        {detailText(d.trigger, '')}
                        {d.success !== undefined &&
                          ` · ${detailText(d.success)} ok, ${detailText(d.error, '0')} failed, ${detailText(d.skipped, '0')} skipped`}
                        {typeof d.unchanged === 'number' && d.unchanged > 0 && (
                          <div>
                            <span class="outcome outcome-unchanged" data-outcome="unchanged">
                              {d.unchanged} unchanged
                            </span>{' '}
                            <span class="muted">of the ok: data verified unchanged, not rebuilt</span>
                          </div>
                        )}
                        {errors.slice(0, 2).map((e) => (
                          <div class="mono pre error-text">{e.error}</div>
                        ))}
                        {typeof d.reason === 'string' && <div class="muted">{d.reason}</div>}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pager total={page.data.total} limit={PAGE_SIZE} offset={offset} onOffset={setOffset} />
        </>
      )}
    </section>
  );
}
