/* Email subjects and bodies (text and HTML), pure functions of what the run decided. */

export interface EmailContext {
  appName: string;
  /** Without trailing slash. */
  baseUrl: string;
  timeZone: string;
  databaseName: string;
}

export interface FailedModelView {
  cardId: number;
  name: string;
  error: string;
  errorClass: string;
  endedAt: Date;
  trigger: string;
  /** Models that read this one ({{#id}}) and were not built because it failed (UPSTREAM_FAILED). */
  notBuilt?: { cardId: number; name: string }[];
}

const notBuiltText = (m: FailedModelView) =>
  m.notBuilt?.length ? m.notBuilt.map((d) => `${d.name} (#${d.cardId})`).join(', ') : null;

export interface RecoveredModelView {
  cardId: number;
  name: string;
  endedAt: Date;
  trigger: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const MAX_ERROR_CHARS = 2000;

/** The model's admin page (documented in the README). */
export function modelLink(baseUrl: string, cardId: number): string {
  return `${baseUrl}/admin/models/${cardId}`;
}

export function adminToolsLink(baseUrl: string): string {
  return `${baseUrl}/admin/tools/model-caching`;
}

/** `2026-11-29 21:06:48 UTC` in the configured zone (short zone name as the locale gives it). */
export function formatTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(date);
  const p = (type: Intl.DateTimeFormatPartTypes) => parts.find((x) => x.type === type)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')} ${p('timeZoneName')}`;
}

export function triggerLabel(trigger: string): string {
  switch (trigger) {
    case 'scheduled':
      return 'Scheduled';
    case 'manual':
      return 'Manual';
    case 'external':
      return 'External';
    default:
      return trigger;
  }
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Header values must stay on one line whatever a database is called. */
function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ').trim();
}

function clip(s: string): string {
  return s.length > MAX_ERROR_CHARS ? `${s.slice(0, MAX_ERROR_CHARS)}…` : s;
}

export function failureSubject(appName: string, databaseName: string): string {
  return oneLine(`[${appName}] Model cache refresh failed for ${databaseName}`);
}

export function recoverySubject(appName: string, databaseName: string): string {
  return oneLine(`[${appName}] Model cache refresh succeeded again for ${databaseName}`);
}

function htmlPage(title: string, intro: string, rows: string, ctx: EmailContext): string {
  const tools = escapeHtml(adminToolsLink(ctx.baseUrl));
  return [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif; color: #222;">',
    `<h2>${escapeHtml(title)}</h2>`,
    `<p>${intro}</p>`,
    '<table cellpadding="6" cellspacing="0" border="1" style="border-collapse: collapse;">',
    rows,
    '</table>',
    `<p><a href="${tools}" style="display: inline-block; padding: 8px 14px; background: #509ee3; color: #fff; text-decoration: none; border-radius: 4px;">Open the model caching admin page</a></p>`,
    `<p style="color: #888; font-size: 12px;">Sent by ${escapeHtml(ctx.appName)}. Times are in ${escapeHtml(ctx.timeZone)}.</p>`,
    '</body></html>',
  ].join('\n');
}

export function renderFailureEmail(ctx: EmailContext, models: FailedModelView[]): RenderedEmail {
  const subject = failureSubject(ctx.appName, ctx.databaseName);
  const count = models.length === 1 ? '1 model' : `${models.length} models`;
  const text = [
    `${count} of database "${ctx.databaseName}" could not be cached.`,
    '',
    ...models.flatMap((m) => [
      `Model: ${m.name} (#${m.cardId})`,
      `  Error: ${clip(m.error)}`,
      `  Error class: ${m.errorClass}`,
      `  Last run at: ${formatTime(m.endedAt, ctx.timeZone)}`,
      `  Trigger: ${triggerLabel(m.trigger)}`,
      `  Link: ${modelLink(ctx.baseUrl, m.cardId)}`,
      ...(notBuiltText(m) ? [`  Not built because of it: ${notBuiltText(m)}`] : []),
      '',
    ]),
    `Admin page: ${adminToolsLink(ctx.baseUrl)}`,
    '',
    `-- ${ctx.appName}`,
  ].join('\n');
  const header =
    '<tr style="background: #f4f4f4;"><th align="left">Model</th><th align="left">Error</th>' +
    '<th align="left">Last run at</th><th align="left">Trigger</th></tr>';
  const rows = models
    .map(
      (m) =>
        `<tr><td><a href="${escapeHtml(modelLink(ctx.baseUrl, m.cardId))}">${escapeHtml(m.name)}</a></td>` +
        `<td><code>${escapeHtml(clip(m.error))}</code><br><small>${escapeHtml(m.errorClass)}</small>` +
        (notBuiltText(m)
          ? `<br><small>Not built because of it: ${escapeHtml(notBuiltText(m)!)}</small>`
          : '') +
        '</td>' +
        `<td>${escapeHtml(formatTime(m.endedAt, ctx.timeZone))}</td>` +
        `<td>${escapeHtml(triggerLabel(m.trigger))}</td></tr>`,
    )
    .join('\n');
  const intro = `${escapeHtml(count)} of database <b>${escapeHtml(ctx.databaseName)}</b> could not be cached.`;
  return { subject, text, html: htmlPage(subject, intro, `${header}\n${rows}`, ctx) };
}

export function renderRecoveryEmail(ctx: EmailContext, models: RecoveredModelView[]): RenderedEmail {
  const subject = recoverySubject(ctx.appName, ctx.databaseName);
  const count = models.length === 1 ? '1 model' : `${models.length} models`;
  const text = [
    `${count} of database "${ctx.databaseName}" refreshed successfully again.`,
    '',
    ...models.flatMap((m) => [
      `Model: ${m.name} (#${m.cardId})`,
      `  Refreshed at: ${formatTime(m.endedAt, ctx.timeZone)}`,
      `  Trigger: ${triggerLabel(m.trigger)}`,
      `  Link: ${modelLink(ctx.baseUrl, m.cardId)}`,
      '',
    ]),
    `-- ${ctx.appName}`,
  ].join('\n');
  const header =
    '<tr style="background: #f4f4f4;"><th align="left">Model</th><th align="left">Refreshed at</th>' +
    '<th align="left">Trigger</th></tr>';
  const rows = models
    .map(
      (m) =>
        `<tr><td><a href="${escapeHtml(modelLink(ctx.baseUrl, m.cardId))}">${escapeHtml(m.name)}</a></td>` +
        `<td>${escapeHtml(formatTime(m.endedAt, ctx.timeZone))}</td>` +
        `<td>${escapeHtml(triggerLabel(m.trigger))}</td></tr>`,
    )
    .join('\n');
  const intro = `${escapeHtml(count)} of database <b>${escapeHtml(ctx.databaseName)}</b> refreshed successfully again.`;
  return { subject, text, html: htmlPage(subject, intro, `${header}\n${rows}`, ctx) };
}

/** `a@x.org, b@y.org; c@z.org` → addresses, trimmed, without obvious garbage or duplicates (case-insensitive). */
export function parseRecipients(...lists: string[][]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const list of lists) {
    for (const entry of list) {
      for (const raw of entry.split(/[,;\s]+/)) {
        const addr = raw.trim();
        if (!/^[^@\s<>]+@[^@\s<>]+$/.test(addr)) continue;
        const k = addr.toLowerCase();
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(addr);
      }
    }
  }
  return out;
}
