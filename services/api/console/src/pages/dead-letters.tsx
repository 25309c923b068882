import { useState } from 'preact/hooks';
import { api, DeadLetter, Page, qs } from '../api';
import { CopyButton, ErrorBox, Pager, useLoad } from '../components';
import { dateTime } from '../format';

const PAGE_SIZE = 20;

export function DeadLettersPage() {
  const [offset, setOffset] = useState(0);
  const [topic, setTopic] = useState('');
  const page = useLoad(
    () =>
      api<Page<DeadLetter>>(
        'GET',
        `/api/dead-letters${qs({ limit: PAGE_SIZE, offset, topic: topic.trim() })}`,
      ),
    [offset, topic],
  );
  return (
    <section aria-labelledby="dl-title">
      <h1 id="dl-title">Dead letters</h1>
      <p class="muted">
        Messages a service could not process, kept on the dead-letter topic with the reason. Newest first.
      </p>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Source topic (exact name)
          <input
            type="search"
            value={topic}
            onChange={(e) => {
              setOffset(0);
              setTopic((e.target as HTMLInputElement).value);
            }}
          />
        </label>
        <button type="button" class="secondary" onClick={() => void page.reload()}>
          Reload
        </button>
      </form>
      <ErrorBox error={page.error} title="Could not read the dead-letter topic" />
      {page.loading && !page.data && <p>Reading the dead-letter topic…</p>}
      {page.data && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Topic</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Payload</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.length === 0 && (
                  <tr>
                    <td colSpan={4}>No dead letters. Every message was processed.</td>
                  </tr>
                )}
                {page.data.data.map((d) => (
                  <tr>
                    <td data-label="When">{dateTime(d.occurred_at)}</td>
                    <td data-label="Topic" class="mono">
                      {d.topic}
                      <div class="muted">
                        partition {d.partition}, offset {d.offset}, group {d.consumer_group}
                      </div>
                    </td>
                    <td data-label="Reason">
                      <span class="code-chip">{d.error_code}</span> {d.reason}
                    </td>
                    <td data-label="Payload">
                      <pre class="payload">{(d.payload ?? '(no value)').slice(0, 300)}</pre>
                      {d.payload !== null && (
                        <CopyButton text={d.payload} label={`Copy payload: ${d.topic} offset ${d.offset}`} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager total={page.data.total} limit={PAGE_SIZE} offset={offset} onOffset={setOffset} />
        </>
      )}
    </section>
  );
}
