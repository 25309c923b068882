import {
  escapeHtml,
  formatTime,
  modelLink,
  parseRecipients,
  renderFailureEmail,
  renderRecoveryEmail,
} from './email-templates';

const ctx = {
  appName: 'Model Persistence',
  baseUrl: 'https://mp.example.com',
  timeZone: 'Europe/Paris',
  databaseName: 'Sales <prod>',
};
const endedAt = new Date('2026-11-29T21:06:48Z');

describe('email templates', () => {
  const email = renderFailureEmail(ctx, [
    {
      cardId: 12,
      name: 'Orders by day',
      error: 'relation "orders" does not exist',
      errorClass: 'query',
      endedAt,
      trigger: 'scheduled',
    },
    {
      cardId: 13,
      name: 'Revenue & <margin>',
      error: 'permission denied for schema mp_cache',
      errorClass: 'permission',
      endedAt,
      trigger: 'manual',
    },
  ]);

  it('uses the exact subject', () => {
    expect(email.subject).toBe('[Model Persistence] Model cache refresh failed for Sales <prod>');
  });

  it('lists every model with name, error, time in the configured zone, trigger and admin link (text)', () => {
    expect(email.text).toContain('2 models of database "Sales <prod>" could not be cached.');
    expect(email.text).toContain('Model: Orders by day (#12)');
    expect(email.text).toContain('Error: relation "orders" does not exist');
    expect(email.text).toContain('Last run at: 2026-11-29 22:06:48 GMT+1');
    expect(email.text).toContain('Trigger: Scheduled');
    expect(email.text).toContain('Trigger: Manual');
    expect(email.text).toContain('Link: https://mp.example.com/admin/models/12');
    expect(email.text).toContain('Link: https://mp.example.com/admin/models/13');
  });

  it('escapes names and errors in the HTML body and links each model', () => {
    expect(email.html).toContain(
      '<a href="https://mp.example.com/admin/models/13">Revenue &amp; &lt;margin&gt;</a>',
    );
    expect(email.html).toContain('relation &quot;orders&quot; does not exist');
    expect(email.html).toContain('<b>Sales &lt;prod&gt;</b>');
    expect(email.html).not.toContain('<margin>');
    expect(email.html).toContain('https://mp.example.com/admin/tools/model-caching');
  });

  it('keeps the subject on one line whatever the database is called', () => {
    const e = renderFailureEmail({ ...ctx, databaseName: 'evil\r\nBcc: x@y.z' }, []);
    expect(e.subject).toBe('[Model Persistence] Model cache refresh failed for evil Bcc: x@y.z');
  });

  it('clips very long errors', () => {
    const e = renderFailureEmail(ctx, [
      { cardId: 1, name: 'm', error: 'x'.repeat(5000), errorClass: 'query', endedAt, trigger: 'external' },
    ]);
    expect(e.text).toContain(`${'x'.repeat(2000)}…`);
    expect(e.text).not.toContain('x'.repeat(2001));
    expect(e.text).toContain('Trigger: External');
  });

  it('renders the recovery email', () => {
    const r = renderRecoveryEmail(ctx, [
      { cardId: 12, name: 'Orders by day', endedAt, trigger: 'scheduled' },
    ]);
    expect(r.subject).toBe('[Model Persistence] Model cache refresh succeeded again for Sales <prod>');
    expect(r.text).toContain('1 model of database "Sales <prod>" refreshed successfully again.');
    expect(r.text).toContain('Refreshed at: 2026-11-29 22:06:48 GMT+1');
    expect(r.html).toContain(modelLink(ctx.baseUrl, 12));
  });

  it('formats times in the configured zone', () => {
    expect(formatTime(endedAt, 'UTC')).toBe('2026-11-29 21:06:48 UTC');
    expect(formatTime(endedAt, 'America/New_York')).toBe('2026-11-29 16:06:48 EST');
  });

  it('escapes all HTML special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('parseRecipients', () => {
  it('merges the setting and admin addresses, trims, drops garbage and case-insensitive duplicates', () => {
    expect(
      parseRecipients(
        ['ops@example.com, Admin@Example.com;  ,not-an-address'],
        ['admin@example.com', 'b@x.org'],
      ),
    ).toEqual(['ops@example.com', 'Admin@Example.com', 'b@x.org']);
  });

  it('returns nothing for an empty setting and no admins', () => {
    expect(parseRecipients([''], [])).toEqual([]);
  });
});
