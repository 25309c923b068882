'use strict';
/*
 * `npm start`'s newcomer parts (issue 15), hooked into scripts/start.js by a few lines:
 *  - beforeStart: one `npm start` at a time, and every port it needs free (else: which port, what to set);
 *  - startDevMail: a local mail catcher unless SMTP_HOST is set; caught mails go to .cache/mail/, are announced
 *    here and shown on the console's Mail page (the api gets DEV_MAIL_DIR);
 *  - printConsole: the console's one-time sign-in link (minted through the API; `npm run sign-in-link` mints more).
 */
const path = require('node:path');
const { root } = require('./lib');
const { preflight } = require('./start-preflight');
const { startMailCatcher } = require('./mail-catcher');
const { mintSignInLink } = require('./sign-in-link');

const MAIL_DIR = path.join(root, '.cache', 'mail');
const mailPort = () => Number(process.env.SMTP_PORT || 1025);

/** METRICS_PORT_BASE moves the five services' metrics ports (base, base+1, …). */
async function beforeStart({ apiPort, services }) {
  const base = Number(process.env.METRICS_PORT_BASE || 0);
  if (base > 0) services.forEach((s, i) => (s.metricsPort = base + i));
  const ports = [
    { port: apiPort, what: 'api HTTP and the admin console', variable: 'API_PORT' },
    ...services.map((s) => ({
      port: s.metricsPort,
      what: `${s.name} metrics`,
      variable: 'METRICS_PORT_BASE (the five metrics ports follow it)',
    })),
  ];
  if (!process.env.SMTP_HOST)
    ports.push({
      port: mailPort(),
      what: 'local mail catcher',
      variable: 'SMTP_PORT (or SMTP_HOST to use your own mail server)',
    });
  await preflight({ root, ports, consoleUrl: `http://127.0.0.1:${apiPort}/admin/` });
}

/** Environment for the services: the catcher's address and DEV_MAIL_DIR, or nothing when SMTP_HOST is set. */
async function startDevMail({ base }) {
  if (process.env.SMTP_HOST) return {};
  const catcher = await startMailCatcher({
    dir: MAIL_DIR,
    port: mailPort(),
    onMail: (m) =>
      console.log(
        `[mail] caught “${m.subject}” to ${m.to.join(', ')} → ${path.relative(root, m.file)} ` +
          `(console: ${base}/admin/#/mail)`,
      ),
  });
  console.log(
    `[mail] local mail catcher on 127.0.0.1:${catcher.port}; mails go to ${path.relative(root, MAIL_DIR)}/`,
  );
  return { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(catcher.port), DEV_MAIL_DIR: MAIL_DIR };
}

async function printConsole({ base, token }) {
  const link = await mintSignInLink({ base, token });
  const minutes = Math.round((Date.parse(link.expires_at) - Date.now()) / 60_000);
  console.log(`Console:     ${link.url}`);
  console.log(
    `             (one-time sign-in link, valid ${minutes} min; \`npm run sign-in-link\` prints a new one)`,
  );
  if (!process.env.SMTP_HOST)
    console.log(`Mail:        caught alert emails in .cache/mail/ and at ${base}/admin/#/mail`);
}

module.exports = { beforeStart, startDevMail, printConsole, MAIL_DIR };
