#!/usr/bin/env node
/*
 * Makes sure Debian's `chromium` package is installed, for the admin console's browser tests
 * (test/e2e/*.int-spec.ts drive it headless through playwright-core) and `npm run screenshots`.
 *   node scripts/ensure-chromium.js        installs it when missing (apt-get; root on these machines)
 * Exports ensureChromium() → the absolute path of the executable. CHROMIUM_PATH overrides the lookup.
 */
'use strict';
const { which, aptInstall } = require('./lib');
const fs = require('node:fs');

function findChromium() {
  if (process.env.CHROMIUM_PATH)
    return fs.existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
  return which('chromium') || which('chromium-browser');
}

function ensureChromium() {
  let chromium = findChromium();
  if (!chromium) {
    console.log('[ensure-chromium] installing Debian package chromium…');
    aptInstall('chromium');
    chromium = findChromium();
    if (!chromium) throw new Error('chromium still not on PATH after install');
  }
  return chromium;
}

module.exports = { ensureChromium, findChromium };

if (require.main === module) {
  try {
    console.log(`[ensure-chromium] ${ensureChromium()}`);
  } catch (e) {
    console.error(`[ensure-chromium] ${e.message}`);
    process.exit(1);
  }
}
