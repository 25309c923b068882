#!/usr/bin/env node
/*
 * `npm run bench [-- <name> …]`: builds, brings the infrastructure up and runs the benchmarks in bench/*.ts
 * (each exports main()), one after the other so they do not disturb each other. Each benchmark compares against a
 * baseline in the same run and writes its figures to bench/results/<name>.md; bench/RESULTS.md collects them.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { root, must, ensureInstalled, build } = require('./lib');

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  ensureInstalled();
  build();
  const { brokers, databaseUrl } = await require('./infra').up();
  const env = { KAFKA_BROKERS: brokers, DATABASE_URL: databaseUrl };
  const files = fs
    .readdirSync(path.join(root, 'bench'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
    .sort();
  if (files.length === 0) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  for (const f of files) {
    console.log(`\n[bench] ${f}`);
    must('node', ['--expose-gc', 'scripts/run-ts.js', path.join('bench', f)], { env });
  }
}

main().catch((e) => {
  console.error('[bench]', e);
  process.exit(1);
});
