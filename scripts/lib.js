'use strict';
// Small helpers shared by scripts/test.js, start.js and bench.js (plain Node: they run before anything is built).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    cwd: root,
    ...opts,
    env: { ...process.env, ...opts.env },
  });
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

/**
 * `npm ci` on a fresh clone; `npm install` when the lock file changed since the last install (recorded as a hash,
 * so editing package.json scripts does not reinstall, and a dev tree is never wiped).
 */
function ensureInstalled() {
  const crypto = require('node:crypto');
  const modules = path.join(root, 'node_modules');
  const stamp = path.join(modules, '.mp-install-stamp');
  const lockHash = () =>
    crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(root, 'package-lock.json')))
      .digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === lockHash()) return;
  if (!fs.existsSync(modules)) {
    console.log('[setup] installing dependencies (npm ci)…');
    must('npm', ['ci', '--no-audit', '--no-fund']);
  } else {
    console.log('[setup] package-lock.json changed: npm install…');
    must('npm', ['install', '--no-audit', '--no-fund']);
  }
  fs.writeFileSync(stamp, lockHash()); // after the install: npm install may rewrite the lock
}

function build() {
  console.log('[setup] building (tsc -b)…');
  must('npx', ['tsc', '-b', 'tsconfig.build.json']);
  // the admin console the api serves at /admin (esbuild bundle into services/api/console/dist)
  must('node', ['services/api/console/build.js']);
}

/** The absolute path of a command on PATH, or null. */
function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Installs a Debian package with apt-get (root on these machines); a fresh machine's lists are updated once. */
function aptInstall(pkg) {
  const apt = (args) =>
    spawnSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  const install = ['install', '-y', '--no-install-recommends', pkg];
  if (!apt(install) && !(apt(['update']) && apt(install))) {
    throw new Error(`apt-get install ${pkg} failed (needs root and the Debian mirror)`);
  }
}

module.exports = { root, run, must, ensureInstalled, build, which, aptInstall };
