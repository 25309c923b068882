#!/usr/bin/env node
/*
 * `npm test`: install → build → infrastructure up (Kafka, PostgreSQL, MariaDB databases) → migrations →
 * typecheck + lint → unit tests → integration tests against the real broker and databases.
 *   --faults   only the fault-injection suite (test/faults), at full size (npm run test:faults);
 *              plain `npm test` runs it in short mode after the integration tests; either way
 *              docs/RELIABILITY.md's figures are then rewritten from the run (scripts/reliability-report.js)
 *   --unit     unit tests only (no infrastructure)
 * Extra arguments after `--` go to jest (e.g. `npm test -- libs/contracts`).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { root, run, must, ensureInstalled, build } = require('./lib');

async function main() {
  const args = process.argv.slice(2);
  const sep = args.indexOf('--');
  const jestArgs = sep >= 0 ? args.slice(sep + 1) : args.filter((a) => !a.startsWith('--'));
  const faults = args.includes('--faults');
  const unitOnly = args.includes('--unit');
  const started = Date.now();

  ensureInstalled();
  build();
  const env = {};
  if (!unitOnly) {
    const infra = require('./infra');
    const { brokers, databaseUrl } = await infra.up();
    env.KAFKA_BROKERS = brokers;
    env.DATABASE_URL = databaseUrl;
    must('node', ['libs/database/dist/migrate.cli.js', 'up'], { env });
    // test/deploy/prometheus.int-spec.ts runs every dashboard and alert query against a real Prometheus
    must('node', ['scripts/ensure-prometheus.js']);
    // test/e2e drives the admin console in Debian's headless Chromium (playwright-core)
    must('node', ['scripts/ensure-chromium.js']);
  }
  if (jestArgs.length === 0) {
    must('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
    must('npx', ['tsc', '-p', 'services/api/console/tsconfig.json']);
    must('npx', ['eslint', '.']);
  }

  const outDir = path.join(root, '.cache', 'jest');
  fs.mkdirSync(outDir, { recursive: true });
  const results = [];
  const jest = (name, extra) => {
    const out = path.join(outDir, `${name}.json`);
    fs.rmSync(out, { force: true });
    const code = run('npx', ['jest', ...extra, '--json', `--outputFile=${out}`, ...jestArgs], {
      env: { ...env, FAULTS_MODE: faults ? 'full' : 'short' },
    });
    const summary = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : null;
    results.push({ name, code, summary });
  };
  const report = require('./reliability-report');
  const mode = faults ? 'full' : 'short';
  // figures of this run only: cleared before anything records some (the SQL fuzz records during integration)
  if (!unitOnly && jestArgs.length === 0) report.clearFigures(mode);
  // --faults runs only the fault-injection suite and the SQL fuzz, at full size (the rest ran in `npm test`)
  if (!faults) jest('unit', ['--selectProjects', 'unit']);
  if (faults && jestArgs.length === 0)
    jest('sql-fuzz', ['--selectProjects', 'integration', '--runInBand', 'test/security/model-sql-fuzz']);
  if (!unitOnly && !faults) jest('integration', ['--selectProjects', 'integration', '--runInBand']);
  // fault injection (test/faults): short sizes after the integration tests, the sizes with --faults
  if (!unitOnly && (jestArgs.length === 0 || faults)) {
    // docs/RELIABILITY.md's figures are generated from what this run measured (scripts/reliability-report.js)
    jest('faults', ['--selectProjects', 'faults', '--runInBand']);
    report.recordRun(mode, results[results.length - 1].summary);
    await report.writeReport();
  }

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const r of results) {
    if (r.summary) {
      passed += r.summary.numPassedTests;
      failed += r.summary.numFailedTests + (r.summary.numRuntimeErrorTestSuites || 0);
      skipped += r.summary.numPendingTests + r.summary.numTodoTests;
    } else if (r.code !== 0) failed += 1;
  }
  const secs = Math.round((Date.now() - started) / 1000);
  console.log(`\nnpm test finished in ${secs} s`);
  console.log(`jest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(results.some((r) => r.code !== 0) || failed > 0 ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
