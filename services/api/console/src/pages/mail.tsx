import { api, CaughtMail } from '../api';
import { ErrorBox, useLoad, usePolling } from '../components';
import { dateTime } from '../format';

/** Development mode only: the mails `npm start`'s local mail catcher received (alerts of the notifier). */
export function MailPage() {
  const mail = useLoad(() => api<{ data: CaughtMail[]; total: number }>('GET', '/api/dev/mail?limit=50'), []);
  usePolling(() => void mail.reload(true), 3000);
  return (
    <section aria-labelledby="mail-title">
      <h1 id="mail-title">Caught mail (development)</h1>
      <p class="muted">
        <code>npm start</code> runs a local mail catcher: every mail the notifier sends lands here and in
        <code> .cache/mail/</code>.
      </p>
      <ErrorBox error={mail.error} title="Could not load the caught mail" />
      {mail.data && mail.data.data.length === 0 && <p>No mail yet.</p>}
      {mail.data?.data.map((m) => (
        <article class="mail" aria-label={m.subject ?? '(no subject)'}>
          <h2>{m.subject ?? '(no subject)'}</h2>
          <p class="muted">
            {dateTime(m.received_at)} · from {m.from ?? '?'} to {m.to.join(', ')}
          </p>
          <pre class="mail-text">{m.text ?? ''}</pre>
        </article>
      ))}
    </section>
  );
}
