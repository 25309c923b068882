'use strict';
// Small helpers shared by scripts/test.js, start.js and bench.js (plain Node: they run before anything is built).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts, env: { ...process.env, ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd, args, opts) {
  const code = run(cmd, args, opts);
  if (code !== 0) {
    console.error(`\n✖ ${cmd} ${args.join(' ')} failed (exit ${code})`);
    process.exit(code);
  }
}

/** npm ci on a fresh clone, npm install when package.json / the lock changed since the last install. */
function ensureInstalled() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  const stale =
    !fs.existsSync(marker) ||
    fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs ||
    fs.statSync(path.join(root, 'package.json')).mtimeMs > fs.statSync(marker).mtimeMs;
  if (!stale) return;
  console.log('[setup] installing dependencies (npm ci)…');
  must('npm', ['ci', '--no-audit', '--no-fund']);
}

function build() {
  console.log('[setup] building (tsc -b)…');
  must('npx', ['tsc', '-b', 'tsconfig.build.json']);
}

module.exports = { root, run, must, ensureInstalled, build };
