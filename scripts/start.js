#!/usr/bin/env node
/*
 * `npm start`: install → build → infrastructure up → migrations → the five services as child processes →
 * a demo source database with sample data and models, registered and persisted through the admin API →
 * prints the admin URL and token. A service that exits is restarted with a backoff (scripts/supervisor.js),
 * saying so. Ctrl-C stops everything it started (services, and Kafka if it started it).
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { root, must, ensureInstalled, build } = require('./lib');
const { Supervisor } = require('./supervisor');

const API_PORT = Number(process.env.API_PORT || 3000);
const SERVICES = [
  { name: 'api', metricsPort: 9464 },
  { name: 'scheduler', metricsPort: 9465 },
  { name: 'refresher', metricsPort: 9466 },
  { name: 'notifier', metricsPort: 9467 },
  { name: 'history', metricsPort: 9468 },
];

function adminToken() {
  if (process.env.API_BOOTSTRAP_TOKEN) return process.env.API_BOOTSTRAP_TOKEN;
  const file = path.join(root, '.cache', 'admin-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = `mp_${crypto.randomBytes(24).toString('base64url')}`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, token, { mode: 0o600 });
  return token;
}

async function waitForHttp(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main() {
  const extras = require('./start-console'); // issue 15: one instance, free ports, mail catcher, console link
  await extras.beforeStart({ apiPort: API_PORT, services: SERVICES });
  ensureInstalled();
  build();
  const infra = require('./infra');
  const { brokers, databaseUrl, kafkaStarted } = await infra.up();
  const env = {
    KAFKA_BROKERS: brokers,
    DATABASE_URL: databaseUrl,
    API_PORT: String(API_PORT),
    API_BOOTSTRAP_TOKEN: adminToken(),
    APP_BASE_URL: `http://127.0.0.1:${API_PORT}`,
    SMTP_HOST: process.env.SMTP_HOST || '127.0.0.1',
    SMTP_PORT: process.env.SMTP_PORT || '1025',
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  };
  Object.assign(env, await extras.startDevMail({ base: `http://127.0.0.1:${API_PORT}` }));
  must('node', ['libs/database/dist/migrate.cli.js', 'up'], { env });

  // a service that exits is restarted with a backoff (scripts/supervisor.js); Ctrl-C stops them all
  const supervisor = new Supervisor();
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    console.log('\n[start] stopping services…');
    await supervisor.stopAll();
    if (kafkaStarted) await infra.kafkaDown();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  for (const s of SERVICES) {
    supervisor.add(s.name, [path.join('services', s.name, 'dist', 'main.js')], {
      cwd: root,
      env: { ...process.env, ...env, METRICS_PORT: String(s.metricsPort) },
    });
  }

  const base = `http://127.0.0.1:${API_PORT}`;
  await waitForHttp(`${base}/health`, 90_000);
  const { seedDemo } = require('./demo-seed');
  const summary = await seedDemo({ base, token: env.API_BOOTSTRAP_TOKEN });
  console.log('\n================ model-persistence is running ================');
  await extras.printConsole({ base, token: env.API_BOOTSTRAP_TOKEN });
  console.log(`Admin API:   ${base}/api/model-persistence`);
  console.log(`OpenAPI:     ${base}/api/docs`);
  console.log(`Admin token: ${env.API_BOOTSTRAP_TOKEN}`);
  console.log(
    `Try:         curl -H "Authorization: Bearer ${env.API_BOOTSTRAP_TOKEN}" ${base}/api/model-persistence`,
  );
  console.log(`Demo:        ${summary}`);
  console.log(`Metrics:     ${SERVICES.map((s) => `${s.name} :${s.metricsPort}/metrics`).join(', ')}`);
  console.log('Ctrl-C stops everything this command started.');
  console.log('==============================================================\n');
}

main().catch((e) => {
  console.error('[start]', e);
  process.exit(1);
});
