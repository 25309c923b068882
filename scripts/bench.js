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
    .filter((f) => f.endsWith('.ts') && !f.endsWith('-kit.ts'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
    .sort();
  if (files.length === 0) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  for (const f of files) {
    console.log(`\n[bench] ${f}`);
    must('node', ['--expose-gc', 'scripts/run-ts.js', path.join('bench', f)], { env });
  }
  writeResults();
}

/** bench/RESULTS.md = a short header + every bench/results/<name>.md, as the benchmarks last wrote them. */
function writeResults() {
  const dir = path.join(root, 'bench', 'results');
  const parts = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim());
  const header = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (or `npm run bench -- <name>`) from `bench/results/*.md`, which each benchmark writes',
    'with the command that produced it. Every benchmark compares side by side in one run against a baseline (ratio),',
    'because the machines are noisy. Machine: 2 cores, 24 GiB, PostgreSQL 15, MariaDB 10.11, Kafka 3.9 (KRaft, one',
    'node), all on loopback. Only measured figures are reported; a target that was not met says so.',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(root, 'bench', 'RESULTS.md'), `${header}\n${parts.join('\n\n')}\n`);
}

module.exports = { writeResults };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.includes('--results-only')) writeResults();
  else
    main().catch((e) => {
      console.error('[bench]', e);
      process.exit(1);
    });
}
